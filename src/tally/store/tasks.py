"""The store's jobs: flush the buffer, report stats, upgrade the schema (all idempotent)."""

from __future__ import annotations

from typing import Any

from tally import keys
from tally.jobs import Every, JobContext, WhenOpen, job
from tally.settings import FlushSettings
from tally.store.owner import StoreOwner

# The breaker the store's tasks go through (SPEC §6): 5 failures in a row open it for 60 s.
DATABASE = "database"


def flush_schedule(flush: FlushSettings) -> Every:
    """Every TALLY_FLUSH_INTERVAL_S; a flush missed by a stopped beat is superseded."""
    return Every(flush.interval_s, expires_s=flush.interval_s)


# While the database breaker is open a flush is skipped, not deferred: the schedule and the
# size trigger send flushes anyway, and deferred copies would pile up. Events wait in Redis.
@job(
    keys.TASK_FLUSH,
    queue=keys.EVENTS_QUEUE,
    breakers=(DATABASE,),
    when_open=WhenOpen.SKIP,
    schedule=flush_schedule,
    schedule_name="flush-events",
)
def flush_events(ctx: JobContext) -> dict[str, Any]:
    """Store what waits in the event buffer (idempotent: safe to run again)."""
    owner = ctx.resource(StoreOwner)
    report = owner.flush(progress=ctx.report_progress)
    # Only a run that held the lease hands on: a skipped one leaves it to the holder.
    ran = report.status == "ok" or report.status.startswith("partial")
    more = ran and (report.status != "ok" or report.remaining >= owner.settings.batch_size)
    if more and ctx.enqueue is not None:
        # More waits than one run took (its time budget, or what arrived meanwhile, whose
        # size trigger found this run holding the lease): hand the rest to a fresh run.
        ctx.enqueue(keys.TASK_FLUSH)
    return report.as_dict()


@job(keys.TASK_STORE_STATS, queue=keys.EVENTS_QUEUE)
def store_stats(ctx: JobContext) -> dict[str, Any]:
    """Distinct events stored, time range and bytes on disk (read-only)."""
    return ctx.resource(StoreOwner).store().stats().as_dict()


@job(keys.TASK_DB_UPGRADE, queue=keys.EVENTS_QUEUE)
def db_upgrade(ctx: JobContext) -> list[str]:
    """Create or migrate the store's schema (idempotent)."""
    return ctx.resource(StoreOwner).store().upgrade()


# Seed 004's Celery task name for the flush, for callers that send it by name.
@job("flush_analytics_events", queue=keys.EVENTS_QUEUE, breakers=(DATABASE,),
     when_open=WhenOpen.SKIP)  # fmt: skip
def flush_analytics_events(ctx: JobContext) -> dict[str, Any]:
    """Seed 004's name for events.flush."""
    return flush_events(ctx)
