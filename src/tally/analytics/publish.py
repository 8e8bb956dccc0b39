"""Publish an analytics run to the result cache, record a failed one, and read results back."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from prometheus_client import Gauge, Histogram

from tally import keys
from tally.analytics.compute import METRICS, AnalyticsRun, Progress, compute, iso
from tally.analytics.params import AnalyticsParams
from tally.analytics.sql import DIMENSIONS
from tally.cache.base import ResultCache
from tally.errors import NotFound, ValidationFailed
from tally.store.base import Store

log = logging.getLogger("tally.analytics")

ANALYTICS_DURATION = Histogram(
    "tally_analytics_run_seconds",
    "Run time of analytics runs, by outcome",
    ["status"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
ANALYTICS_LAST_SUCCESS = Gauge(
    "tally_analytics_last_success_timestamp_seconds", "When the last successful run finished"
)
NO_RUN_YET: Final = (
    "no analytics results yet: the first run has not finished (it runs at worker start-up "
    "and daily; trigger one with `tally analytics run` or POST /api/v1/analytics/run)"
)


@dataclass(frozen=True, slots=True)
class Publication:
    """Where results go: the cache, the key prefix and the TTL of every key."""

    cache: ResultCache
    prefix: str = ""
    ttl_s: int = 25 * 3600

    def key(self, name: str) -> str:
        """A full key name."""
        return keys.analytics_key(self.prefix, name)


def publish(target: Publication, run: AnalyticsRun) -> None:
    """Write the four result sets and the metadata in one atomic step."""
    values = {
        target.key(name): orjson.dumps(run.payloads[metric_dim]).decode()
        for metric_dim, name in keys.ANALYTICS_RESULT_KEYS.items()
    }
    values[target.key(keys.ANALYTICS_METADATA)] = orjson.dumps(run.metadata).decode()
    target.cache.publish(values, target.ttl_s)


def record_failure(target: Publication, as_of: datetime | None, error: str) -> dict[str, Any]:
    """Mark the last run failed, keeping the previous results and their metadata fields."""
    previous = read_metadata(target) or {
        "last_analysis": None,
        "as_of": None,
        "events_scanned": 0,
        "duration_ms": None,
        "parameters": None,
    }
    metadata = {
        **previous,
        "status": "failed",
        "error": error,
        "failed_at": iso(datetime.now(UTC)),
        "failed_as_of": None if as_of is None else iso(as_of),
    }
    target.cache.publish(
        {target.key(keys.ANALYTICS_METADATA): orjson.dumps(metadata).decode()}, target.ttl_s
    )
    return metadata


def refresh(
    store: Store,
    target: Publication,
    params: AnalyticsParams,
    as_of: datetime | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Compute a run and publish it; on failure, record it and re-raise (results stay)."""
    started = time.monotonic()
    try:
        run = compute(store, params, as_of, progress=progress)
    except ValidationFailed:
        raise  # a refused request is not a failed run
    except Exception as exc:
        log.exception("analytics run failed")
        ANALYTICS_DURATION.labels(status="failed").observe(time.monotonic() - started)
        record_failure(target, as_of, f"{type(exc).__name__}: {exc}")
        raise
    if progress is not None:
        progress(95, "publishing results")
    publish(target, run)
    ANALYTICS_DURATION.labels(status="ok").observe(time.monotonic() - started)
    ANALYTICS_LAST_SUCCESS.set_to_current_time()
    log.info(
        "analytics published: as_of %s, %d events in %.0f ms",
        run.metadata["as_of"],
        run.metadata["events_scanned"],
        run.metadata["duration_ms"],
        extra={
            "event": "analytics_run",
            "status": "ok",
            **{k: run.metadata.get(k) for k in ("as_of", "events_scanned", "duration_ms")},
        },
    )
    return run.metadata


def read_metadata(target: Publication) -> dict[str, Any] | None:
    """The last run's metadata, or None before any run."""
    raw = target.cache.get(target.key(keys.ANALYTICS_METADATA))
    return None if raw is None else dict(orjson.loads(raw))


def read_results(
    target: Publication,
    metric: str,
    by: str,
    group: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """One result set, optionally narrowed to a group and to its first `limit` rows."""
    if metric not in METRICS:
        raise ValidationFailed("metric", "invalid_field", f"one of {', '.join(METRICS)}")
    if by not in DIMENSIONS:
        raise ValidationFailed("by", "invalid_field", f"one of {', '.join(DIMENSIONS)}")
    raw = target.cache.get(target.key(keys.ANALYTICS_RESULT_KEYS[(metric, by)]))
    if raw is None:
        raise NotFound(NO_RUN_YET)
    payload: dict[str, Any] = orjson.loads(raw)
    groups: dict[str, list[Any]] = payload["groups"]
    if group is not None:
        if group not in groups:
            known = ", ".join(sorted(groups)[:20]) or "none"
            raise NotFound(f"no {metric} results for {by} {group!r} (groups: {known})")
        groups = {group: groups[group]}
        if "totals" in payload:
            payload["totals"] = {group: payload["totals"].get(group)}
    if limit is not None:
        groups = {g: rows[:limit] for g, rows in groups.items()}
    payload["groups"] = groups
    payload["metric"], payload["by"] = metric, by
    return payload
