"""Tally's built-in tasks: thin wrappers that call plain functions with the task context."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from tally import keys
from tally.analytics.compute import parse_as_of
from tally.cache.results import refresh
from tally.errors import ValidationFailed
from tally.queue.base import TallyCelery
from tally.settings import Settings
from tally.store.flush import flush

log = logging.getLogger("tally.tasks")

# Bounded retries with exponential backoff and jitter, capped (SPEC §5 defaults).
RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": (Exception,),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
}


def report_progress(task: Task[Any, Any], pct: int, message: str) -> None:
    """Publish a running job's progress (0-100) and a short message."""
    task.update_state(state="PROGRESS", meta={"progress": pct, "message": message})


def register(app: TallyCelery, settings: Settings) -> None:
    """Register the built-in tasks on `app`."""
    max_retries = settings.max_tries - 1

    @app.task(name=keys.TASK_FLUSH, bind=True, max_retries=max_retries, **RETRY_POLICY)
    def flush_events(self: Task[Any, Any]) -> dict[str, Any]:
        """Store what waits in the event buffer (idempotent: safe to run again)."""
        ctx = app.context()
        s = ctx.settings
        report = flush(
            ctx.buffer,
            ctx.store(),
            batch_size=s.batch_size,
            dedup_window_s=s.dedup_window_s,
            lock_ttl_s=s.flush_lock_ttl_s,
            max_duration_s=s.flush_max_duration_s,
            progress=lambda pct, msg: report_progress(self, pct, msg),
        )
        if report.status.startswith("partial"):
            # More waits than one run may take: hand the rest to a fresh run.
            self.app.send_task(keys.TASK_FLUSH)
        return report.as_dict()

    @app.task(name=keys.TASK_STORE_STATS, max_retries=max_retries, **RETRY_POLICY)
    def store_stats() -> dict[str, Any]:
        """Distinct events stored, time range and bytes on disk (read-only)."""
        return app.context().store().stats().as_dict()

    @app.task(name=keys.TASK_DB_UPGRADE, max_retries=max_retries, **RETRY_POLICY)
    def db_upgrade() -> list[str]:
        """Create or migrate the store's schema (idempotent)."""
        return app.context().store().upgrade()

    @app.task(
        name=keys.TASK_ANALYTICS_RUN,
        bind=True,
        max_retries=max_retries,
        dont_autoretry_for=(ValidationFailed,),
        **RETRY_POLICY,
    )
    def analytics_run(self: Task[Any, Any], as_of: str | None = None) -> dict[str, Any]:
        """Popularity and trending as of `as_of` (default now), published to the cache."""
        ctx = app.context()
        when = None if as_of is None else parse_as_of(as_of)
        return refresh(
            ctx.store(),
            ctx.results,
            ctx.analytics,
            when,
            progress=lambda pct, msg: report_progress(self, pct, msg),
        )

    _ = (flush_events, store_stats, db_upgrade, analytics_run)
