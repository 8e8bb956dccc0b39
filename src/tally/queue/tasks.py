"""Tally's built-in tasks: thin `@job`s that call plain functions with the process's resources."""

from __future__ import annotations

import logging
import time
from typing import Any

from tally import keys
from tally.analytics.compute import parse_as_of
from tally.cache.results import refresh
from tally.errors import BreakerOpen
from tally.queue.context import TaskContext
from tally.queue.progress import JobContext, check_aborted, report_progress
from tally.queue.registry import job
from tally.store.flush import flush

log = logging.getLogger("tally.tasks")
# The breaker the store's tasks go through (SPEC §6): 5 failures in a row open it for 60 s.
DATABASE = "database"


def _resources(ctx: JobContext) -> TaskContext:
    if not isinstance(ctx.resources, TaskContext):
        raise RuntimeError("this process does not run Tally's built-in tasks")
    return ctx.resources


@job(keys.TASK_FLUSH, queue=keys.EVENTS_QUEUE)
def flush_events(ctx: JobContext) -> dict[str, Any]:
    """Store what waits in the event buffer (idempotent: safe to run again)."""
    res = _resources(ctx)
    s = res.settings
    try:
        with ctx.breaker(DATABASE):
            report = flush(
                res.buffer,
                res.store(),
                batch_size=s.flush_insert_events,
                dedup_window_s=s.dedup_window_s,
                lock_ttl_s=s.flush_lock_ttl_s,
                max_duration_s=s.flush_max_duration_s,
                progress=ctx.report_progress,
            )
    except BreakerOpen as exc:
        # Not deferred: the schedule and the size trigger send flushes anyway, and deferred
        # copies would pile up for as long as the store is down. The events wait in Redis.
        log.warning("flush skipped: %s", exc.message)
        return {"status": f"skipped: {exc.message}", "retry_after_s": round(exc.retry_after_s)}
    if report.status.startswith("partial") and ctx.enqueue is not None:
        # More waits than one run may take: hand the rest to a fresh run.
        ctx.enqueue(keys.TASK_FLUSH)
    return report.as_dict()


@job(keys.TASK_STORE_STATS, queue=keys.EVENTS_QUEUE)
def store_stats(ctx: JobContext) -> dict[str, Any]:
    """Distinct events stored, time range and bytes on disk (read-only)."""
    return _resources(ctx).store().stats().as_dict()


@job(keys.TASK_DB_UPGRADE, queue=keys.EVENTS_QUEUE)
def db_upgrade(ctx: JobContext) -> list[str]:
    """Create or migrate the store's schema (idempotent)."""
    return _resources(ctx).store().upgrade()


@job(keys.TASK_ANALYTICS_RUN, queue=keys.ANALYTICS_QUEUE, breakers=(DATABASE,))
def analytics_run(ctx: JobContext, as_of: str | None = None) -> dict[str, Any]:
    """Popularity and trending as of `as_of` (default now), published to the cache."""
    res = _resources(ctx)
    when = None if as_of is None else parse_as_of(as_of)
    return refresh(res.store(), res.results, res.analytics, when, progress=ctx.report_progress)


@job(keys.TASK_NOOP, queue=keys.DEFAULT_QUEUE)
def noop(sleep_s: float = 0.0, steps: int = 1) -> dict[str, Any]:
    """Do nothing (benchmarks, smoke tests); with `sleep_s`, report progress in `steps`."""
    for step in range(steps):
        check_aborted()
        if sleep_s:
            time.sleep(sleep_s / steps)
        report_progress(100 * (step + 1) / steps, f"step {step + 1}/{steps}")
    return {"steps": steps}
