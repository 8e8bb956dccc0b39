"""Write hand-made events straight into the store, and the SPEC §4 formulas in plain Python."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tally.analytics.params import AnalyticsParams
from tally.store import lookups
from tally.store.base import Store

DAY_S = 86_400.0


@dataclass(frozen=True)
class Ev:
    """One event: its type, entity, groups and age before T."""

    event_type: str
    entity_id: str
    age: timedelta
    country: str = "FR"
    category: str = "music"
    entity_type: str = "video"
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def clear(store: Store) -> None:
    """Empty the events table and the names beside it."""
    for table in store.names.data_tables:
        store.command(f"TRUNCATE TABLE {table}")


def insert(store: Store, as_of: datetime, events: list[Ev]) -> None:
    """Insert rows as they are (copies included), bypassing the insert-time dedup."""
    if not events:
        return
    rows = ", ".join(
        f"('{e.event_id}', '{e.event_type}', '{e.entity_type}', '{e.entity_id}', "
        f"'{e.country}', '{e.category}', "
        f"fromUnixTimestamp64Milli({round((as_of - e.age).timestamp() * 1000)}, 'UTC'))"
        for e in events
    )
    store.command(
        f"INSERT INTO {store.names.events} "
        "(event_id, event_type, entity_type, entity_id, country, category, created_at) "
        f"VALUES {rows}"
    )
    # Tally's insert writes the names beside the events (store.lookups); so does this one.
    for statement in lookups.record_stored_names(store.names):
        store.command(statement)


def reference(
    events: list[Ev], params: AnalyticsParams, dimension: str
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Popularity and trending per group, straight from the SPEC §4 text."""
    unique = list({e.event_id: e for e in events}.values())
    pop: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    trend: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for e in unique:
        age_s = e.age.total_seconds()
        key = (getattr(e, dimension), e.entity_type, e.entity_id)
        w = params.weights.get(e.event_type, 0.0)
        if 0 <= age_s < DAY_S:  # t in (T-24h, T]
            pop[key][0] += w * math.exp(-age_s / (params.time_decay_days * DAY_S))
            pop[key][1] += 1
            trend[key][0] += w
            trend[key][2] += 1
        elif DAY_S <= age_s < 3 * DAY_S:  # t in (T-72h, T-24h]
            trend[key][1] += w
    popular: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (group, etype, eid), (score, n) in pop.items():
        if score > 0:
            popular[group].append(
                {"entity_type": etype, "entity_id": eid, "score": score, "events": n}
            )
    trending: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (group, etype, eid), (recent, baseline, n) in trend.items():
        expected = baseline / 2
        score = (recent - expected) / math.sqrt(max(expected, 0) + params.trend_prior)
        if n >= params.trend_min_events and score > 0:
            trending[group].append(
                {
                    "entity_type": etype,
                    "entity_id": eid,
                    "trend_score": score,
                    "events": n,
                    "growth": None if expected <= 0 else (recent - expected) / expected,
                }
            )
    for rows in popular.values():
        rows.sort(key=lambda r: (-r["score"], r["entity_type"], r["entity_id"]))
    for rows in trending.values():
        rows.sort(key=lambda r: (-r["trend_score"], r["entity_type"], r["entity_id"]))
    return (
        {g: rows[: params.top_n] for g, rows in popular.items()},
        {g: rows[: params.top_n] for g, rows in trending.items()},
    )
