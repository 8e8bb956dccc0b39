"""One analytics run: the four result sets of SPEC §4 and their metadata, from one query."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from tally.analytics import sql
from tally.analytics.params import (
    BASELINE_WINDOW_H,
    POPULARITY_WINDOW_H,
    TRENDING_WINDOW_H,
    AnalyticsParams,
)
from tally.errors import ValidationFailed
from tally.store.base import Store

METRICS: Final = ("popularity", "trending")
Progress = Callable[[int, str], None]


@dataclass(frozen=True, slots=True)
class AnalyticsRun:
    """What one run produced: payloads keyed by (metric, dimension), and the metadata."""

    as_of: datetime
    generated_at: datetime
    payloads: dict[tuple[str, str], dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-22T02:00:00.000Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resolve_as_of(as_of: datetime | None, now: datetime) -> datetime:
    """The run's T: `now` by default; naive times are UTC; the future is refused."""
    if as_of is None:
        as_of = now
    elif as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    as_of = as_of.astimezone(UTC)
    as_of = as_of.replace(microsecond=as_of.microsecond // 1000 * 1000)  # the store keeps ms
    if as_of > now:
        raise ValidationFailed(
            "as_of",
            "future_timestamp",
            f"{iso(as_of)} is in the future (now is {iso(now)}); analytics run on the past only",
        )
    return as_of


def parse_as_of(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC when naive), refused when malformed or in the future."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            "as_of",
            "invalid_field",
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-21T02:00:00Z)",
        ) from None
    return resolve_as_of(moment, now or datetime.now(UTC))


def key_time(as_of: str | datetime) -> str:
    """A run's as_of as its backfill keys name it (ISO, UTC, ms); any time, future too."""
    if isinstance(as_of, str):
        return iso(parse_as_of(as_of, now=datetime.max.replace(tzinfo=UTC)))
    moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
    return iso(moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def compute(
    store: Store,
    params: AnalyticsParams,
    as_of: datetime | None = None,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> AnalyticsRun:
    """Run popularity and trending as of `as_of` inside the store and shape the payloads."""
    started = time.perf_counter()
    report = progress or (lambda _pct, _msg: None)
    now = now or datetime.now(UTC)
    as_of = resolve_as_of(as_of, now)
    as_of_ms = int(as_of.timestamp() * 1000)
    read_threads = max(1, int(store.query(sql.MAX_THREADS)[0]["n"]))
    report(10, "aggregating popularity and trending in the store")
    rows = store.query(sql.analytics(store.names, as_of_ms, params, read_threads))
    report(80, f"shaping {len(rows)} groups")
    generated_at = datetime.now(UTC)
    common = {"as_of": iso(as_of), "generated_at": iso(generated_at)}
    payloads: dict[tuple[str, str], dict[str, Any]] = {}
    for dimension in sql.DIMENSIONS:
        payloads[("popularity", dimension)] = {
            **common,
            "window_hours": POPULARITY_WINDOW_H,
            "groups": {},
            "totals": {},
        }
        payloads[("trending", dimension)] = {
            **common,
            "window_hours": TRENDING_WINDOW_H,
            "baseline_hours": BASELINE_WINDOW_H,
            "groups": {},
        }
    scanned = 0
    for row in rows:
        dimension, group = row["dimension"], row["grp"]
        if dimension == sql.DIMENSIONS[0]:  # every event is in exactly one country group
            scanned += int(row["total_events"]) + int(row["total_baseline_events"])
        popular = [_popular_row(i, item) for i, item in enumerate(row["popular"], 1)]
        trending = [_trending_row(i, item) for i, item in enumerate(row["trending"], 1)]
        pop = payloads[("popularity", dimension)]
        if int(row["total_events"]) > 0:
            pop["totals"][group] = {
                "events": int(row["total_events"]),
                "score": float(row["total_score"]),
                "entities": int(row["total_entities"]),
            }
        if popular:
            pop["groups"][group] = popular
        if trending:
            payloads[("trending", dimension)]["groups"][group] = trending
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    metadata = {
        "last_analysis": iso(generated_at),
        "as_of": iso(as_of),
        "events_scanned": scanned,
        "duration_ms": duration_ms,
        "parameters": params.as_dict(),
        "status": "success",
        "error": None,
    }
    return AnalyticsRun(as_of, generated_at, payloads, metadata)


def _popular_row(rank: int, item: list[Any]) -> dict[str, Any]:
    entity_type, entity_id, score, events = item
    return {
        "rank": rank,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "score": float(score),
        "events": int(events),
    }


def _trending_row(rank: int, item: list[Any]) -> dict[str, Any]:
    entity_type, entity_id, trend_score, events, recent, baseline, expected, growth, base_n = item
    return {
        "rank": rank,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "trend_score": float(trend_score),
        "events": int(events),
        "recent": float(recent),
        "baseline": float(baseline),
        "expected": float(expected),
        "growth": None if growth is None else float(growth),
        "baseline_events": int(base_n),
    }
