"""The parameters of an analytics run (SPEC §4), validated once."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from tally.errors import ValidationFailed
from tally.settings import AnalyticsSettings

# Seed 000's weights; event types not listed weigh 0.
DEFAULT_WEIGHTS: Final[dict[str, float]] = {
    "video_view": 1.0,
    "video_share": 5.0,
    "video_favorite": 3.0,
    "video_replay": 2.0,
    "video_skip": -1.0,
    "cagnotte_detail_view": 1.5,
}
POPULARITY_WINDOW_H: Final = 24
TRENDING_WINDOW_H: Final = 24
BASELINE_WINDOW_H: Final = 48


@dataclass(frozen=True, slots=True)
class AnalyticsParams:
    """Event weights, decay τ (days), ranks kept per group, trend prior k and minimum events."""

    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    time_decay_days: float = 1.0
    top_n: int = 50
    trend_prior: float = 5.0
    trend_min_events: int = 5

    def __post_init__(self) -> None:
        for name, weight in self.weights.items():
            if not name or not math.isfinite(weight):
                raise ValidationFailed("weights", "invalid_field", f"bad weight {name!r}")
        if not (self.time_decay_days > 0 and math.isfinite(self.time_decay_days)):
            raise ValidationFailed("time_decay_days", "invalid_field", "must be > 0")
        if self.top_n < 1:
            raise ValidationFailed("top_n", "invalid_field", "must be >= 1")
        if not (self.trend_prior > 0 and math.isfinite(self.trend_prior)):
            # k > 0 keeps the denominator sqrt(max(expected, 0) + k) away from zero.
            raise ValidationFailed("trend_prior", "invalid_field", "must be > 0")
        if self.trend_min_events < 0:
            raise ValidationFailed("trend_min_events", "invalid_field", "must be >= 0")

    def weight(self, event_type: str) -> float:
        """Weight of an event type; unknown types weigh 0."""
        return self.weights.get(event_type, 0.0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, recorded in the run's metadata."""
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: AnalyticsSettings) -> AnalyticsParams:
        """The deployment's parameters (TALLY_ANALYTICS_WEIGHTS, TALLY_TOP_N, ...)."""
        weights = DEFAULT_WEIGHTS if settings.weights is None else settings.weights
        return cls(
            weights=dict(weights),
            time_decay_days=settings.time_decay_days,
            top_n=settings.top_n,
            trend_prior=settings.trend_prior,
            trend_min_events=settings.trend_min_events,
        )
