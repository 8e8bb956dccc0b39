"""Alert rules (SPEC §10): four kinds, one validated shape each; the API's request models."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Names are what Prometheus labels and the dashboard show: bounded and printable.
NAME = r"^[\w][\w .:/@()+-]{0,199}$"
ENTITY = r"^[^:\s]{1,64}:[^\s]{1,128}$"
MAX_WINDOW_S = 31 * 86_400
MAX_TRAILING = 500


class Kind(StrEnum):
    """What a rule watches."""

    EVENTS = "events"
    METRIC = "metric"
    ANALYTICS = "analytics"
    JOB = "job"


class Severity(StrEnum):
    """How loud a rule is; carried in every notification."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventsSpec(_Spec):
    """A series over stored events, compared with a bound, the previous window or its history.

    `change`/`change_pct` compare the window with the one before it: a positive bound fires on
    a rise of at least that much, a negative one on a fall (-50 with `change_pct`: half gone).
    `anomaly` fires when the window's z-score against the `windows` before it reaches `bound`
    (default 3) in `direction`.
    """

    kind: Literal["events"]
    measure: Literal["count", "weighted", "unique_users"] = "count"
    event_type: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=128)
    entity: str | None = Field(default=None, pattern=ENTITY, description="entity_type:entity_id")
    group_by: Literal["country", "category"] | None = None
    window_s: int = Field(default=3600, description="seconds, ending at the evaluation time")
    condition: Literal["above", "below", "change", "change_pct", "anomaly"] = "above"
    bound: float | None = None
    windows: int = Field(default=24, description="anomaly: trailing windows compared with")
    direction: Literal["up", "down", "both"] = "both"

    @field_validator("window_s")
    @classmethod
    def _a_window(cls, value: int) -> int:
        if not 0 < value <= MAX_WINDOW_S:
            raise ValueError(f"window_s must be a positive duration of at most {MAX_WINDOW_S} s")
        return value

    @field_validator("windows")
    @classmethod
    def _trailing(cls, value: int) -> int:
        if not 2 <= value <= MAX_TRAILING:
            raise ValueError(f"windows must be within 2-{MAX_TRAILING}")
        return value

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return None if value is None else value.strip().upper()

    @model_validator(mode="after")
    def _bound_when_needed(self) -> EventsSpec:
        if self.bound is None:
            if self.condition == "anomaly":
                self.bound = 3.0
            else:
                raise ValueError(f"bound: required for condition {self.condition!r}")
        if self.condition in ("change", "change_pct") and self.bound == 0:
            raise ValueError("bound: a change of 0 fires on every window; give a rise or a fall")
        if self.condition == "anomaly" and self.bound <= 0:
            raise ValueError("bound: an anomaly's z-score bound must be positive")
        return self

    def windows_needed(self) -> int:
        """Windows read per evaluation: the current one and those it is compared with."""
        if self.condition in ("change", "change_pct"):
            return 2
        if self.condition == "anomaly":
            return self.windows + 1
        return 1


Metric = Literal[
    "queue_depth", "failed_jobs", "flush_lag_s", "buffer_oldest_age_s", "workers_seen",
    "breaker_open",
]  # fmt: skip


class MetricSpec(_Spec):
    """One of Tally's own measures, above or below a bound (one state per queue/task/breaker)."""

    kind: Literal["metric"]
    metric: Metric
    queue: str | None = Field(default=None, max_length=64)
    task: str | None = Field(default=None, max_length=200)
    breaker: str | None = Field(default=None, max_length=64)
    window_s: int = Field(default=3600, description="failed_jobs: counted over this window")
    condition: Literal["above", "below"] = "above"
    bound: float | None = None

    @field_validator("window_s")
    @classmethod
    def _a_window(cls, value: int) -> int:
        return EventsSpec._a_window(value)

    @model_validator(mode="after")
    def _bound_when_needed(self) -> MetricSpec:
        if self.bound is None:
            if self.metric == "breaker_open":
                self.bound = 0.5  # open is 1, closed 0: fires while open
            else:
                raise ValueError(f"bound: required for condition {self.condition!r}")
        return self


class AnalyticsSpec(_Spec):
    """After each analytics run: an entity enters or leaves the top N, or a trend_score passes."""

    kind: Literal["analytics"]
    metric: Literal["popularity", "trending"] = "popularity"
    by: Literal["country", "category"] = "country"
    group: str = Field(min_length=1, max_length=128)
    top_n: int = Field(default=10, ge=1, le=1000)
    condition: Literal["enters", "leaves", "trend_score_above"] = "enters"
    entity: str | None = Field(default=None, pattern=ENTITY)
    bound: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AnalyticsSpec:
        if self.condition == "trend_score_above":
            if self.bound is None:
                raise ValueError("bound: required for condition 'trend_score_above'")
            self.metric = "trending"
        if self.condition == "leaves" and self.entity is None:
            raise ValueError("entity: required for condition 'leaves' (which entity to watch)")
        if self.by == "country":
            self.group = self.group.strip().upper()
        return self


class JobSpec(_Spec):
    """A job of one of these tasks failed for good (its last try): fired by the failure itself."""

    kind: Literal["job"]
    tasks: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=100
    )


Spec = Annotated[EventsSpec | MetricSpec | AnalyticsSpec | JobSpec, Field(discriminator="kind")]


class Templates(_Spec):
    """Jinja2 (sandboxed) subject and body; unset: Tally's own wording."""

    subject: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, max_length=10_000)


class RuleIn(BaseModel):
    """A rule as created or replaced through the API, the CLI or the dashboard."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=NAME)
    spec: Spec
    every_s: int | None = Field(default=None, description="evaluate every N seconds (default 60)")
    cron: str | None = Field(
        default=None, description="or on a cron (UTC); job and analytics rules are event-driven"
    )
    for_: int = Field(default=1, ge=1, le=1000, alias="for", description="breaches before firing")
    repeat_interval_s: int = Field(default=4 * 3600, ge=60, le=30 * 86_400)
    notify_resolved: bool = True
    severity: Severity = Severity.WARNING
    labels: dict[str, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=20
    )
    channels: list[str] = Field(default_factory=list, max_length=20, description="channel names")
    templates: Templates = Field(default_factory=Templates)
    enabled: bool = True
    muted_until: datetime | None = None

    @field_validator("every_s")
    @classmethod
    def _positive_every(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 86_400:
            raise ValueError("every_s must be a positive number of seconds, at most 86400")
        return value

    @field_validator("cron")
    @classmethod
    def _a_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid 5-field cron (minute hour dom month dow)")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", key):
                raise ValueError(f"label name {key!r}: letters, digits and _ only")
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> RuleIn:
        if self.every_s is not None and self.cron is not None:
            raise ValueError("every_s: give every_s or cron, not both")
        return self

    @property
    def kind(self) -> Kind:
        """The rule's kind, from its spec."""
        return Kind(self.spec.kind)

    def interval_s(self) -> int | None:
        """Seconds between evaluations (None: on a cron, or event-driven: job and analytics)."""
        if self.kind in (Kind.JOB, Kind.ANALYTICS) or self.cron is not None:
            return None
        if self.every_s is not None:
            return self.every_s
        return 60
