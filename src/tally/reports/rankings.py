"""Popularity and trending for reports: the published results, or a past run computed now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tally.analytics.compute import compute
from tally.analytics.service import AnalyticsService
from tally.errors import NotFound
from tally.reports.sources import rankings_missing
from tally.store.base import Store


class AnalyticsRankings:
    """Reads what analytics published; an as-of without a backfill is computed, not published."""

    def __init__(self, analytics: AnalyticsService, store: Callable[[], Store] | None) -> None:
        self._analytics = analytics
        self._store = store

    def ranking(
        self, metric: str, by: str, limit: int, as_of: datetime | None
    ) -> dict[str, list[dict[str, Any]]]:
        try:
            found = self._analytics.results(metric, by, None, limit, as_of=as_of)
            groups: dict[str, list[dict[str, Any]]] = found["groups"]
            return groups
        except NotFound:
            if as_of is None or self._store is None:
                raise rankings_missing(as_of) from None
        run = compute(self._store(), self._analytics.params, as_of)
        computed: dict[str, list[dict[str, Any]]] = run.payloads[(metric, by)]["groups"]
        return {g: rows[:limit] for g, rows in computed.items()}
