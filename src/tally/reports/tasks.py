"""The reports jobs on the `reports` queue: tick, run, deliver, cleanup."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter

from tally import keys
from tally.errors import UnavailableError
from tally.jobs import Cron, Every, JobContext, job
from tally.jobs.housekeeping import purge
from tally.jobs.resources import Resources
from tally.reports import retention, runs
from tally.reports.deliver import deliver
from tally.reports.service import ReportsService
from tally.reports.sources import Context
from tally.settings import ReportsSettings

RUNS = Counter("tally_report_runs", "Report runs rendered", ["format", "outcome"])


def every_tick(reports: ReportsSettings) -> Every:
    """TALLY_REPORTS_TICK_S: beat looks for slots that came this often."""
    return Every(reports.tick_s, expires_s=reports.tick_s)


def cleanup_schedule(reports: ReportsSettings) -> Cron:
    """TALLY_REPORTS_CLEANUP_SCHEDULE (UTC)."""
    return Cron(reports.cleanup_schedule, "TALLY_REPORTS_CLEANUP_SCHEDULE")


@job(keys.TASK_REPORTS_TICK, queue=keys.REPORTS_QUEUE, max_tries=1, schedule=every_tick,
     schedule_name="reports-tick")  # fmt: skip
def reports_tick(ctx: JobContext) -> dict[str, Any]:
    """Start the runs of the slots that came; send again what a crash left."""
    service = ctx.resource(ReportsService)
    done = runs.tick(service.db, time.time())
    assert ctx.enqueue is not None
    for run_id in done.started:
        ctx.enqueue(keys.TASK_REPORTS_RUN, run_id=run_id)
    for run_id in done.again:
        ctx.enqueue(keys.TASK_REPORTS_RUN, run_id=run_id)
    for delivery_id in done.deliveries:
        ctx.enqueue(keys.TASK_REPORTS_DELIVER, delivery_id=delivery_id)
    return {"started": len(done.started), "again": len(done.again),
            "deliveries_again": len(done.deliveries)}  # fmt: skip


@job(keys.TASK_REPORTS_RUN, queue=keys.REPORTS_QUEUE, max_tries=runs.MAX_RENDER_TRIES,
     retry_for=(UnavailableError, OSError))  # fmt: skip
def reports_run(ctx: JobContext, run_id: str) -> dict[str, Any]:
    """Render a run once, then start one delivery job per target."""
    service = ctx.resource(ReportsService)
    done = runs.execute(service.db, run_id, service.settings, ctx.resource(Context),
                        ctx.report_progress)  # fmt: skip
    if done.outcome != "skipped":
        RUNS.labels(done.run.get("format", "?"), done.outcome).inc()
    assert ctx.enqueue is not None
    for delivery_id in done.deliveries:
        ctx.enqueue(keys.TASK_REPORTS_DELIVER, delivery_id=delivery_id)
    ctx.report_progress(100, f"{done.outcome}; {len(done.deliveries)} deliveries")
    keep = ("status", "rows", "size_bytes", "sha256", "duration_ms", "error", "note")
    return {"run_id": run_id, "outcome": done.outcome, "deliveries": len(done.deliveries),
            **{k: done.run.get(k) for k in keep if k in done.run}}  # fmt: skip


@job(keys.TASK_REPORTS_DELIVER, queue=keys.REPORTS_QUEUE, max_tries=1)
def reports_deliver(ctx: JobContext, delivery_id: int) -> dict[str, Any]:
    """Deliver a run to one target; a failure schedules its own retry, alone."""
    service = ctx.resource(ReportsService)
    done = deliver(service.db, delivery_id, service.settings, service.alerts, ctx.breakers,
                   runs.job_of(service.settings.directory), service.download_url)  # fmt: skip
    if done.next_at is not None:
        wait_s = max(0.5, done.next_at - time.time())
        service.jobs.enqueue(keys.TASK_REPORTS_DELIVER, kwargs={"delivery_id": delivery_id},
                             countdown=wait_s)  # fmt: skip
    return {"outcome": done.outcome, "attempt": done.attempt, "error": done.error,
            "location": done.location}  # fmt: skip


@job(keys.TASK_REPORTS_CLEANUP, queue=keys.REPORTS_QUEUE, max_tries=3,
     schedule=cleanup_schedule, schedule_name="reports-cleanup")  # fmt: skip
def reports_cleanup(ctx: JobContext) -> dict[str, Any]:
    """Remove runs and files past TALLY_REPORT_RETENTION_DAYS; counts of what went."""
    service = ctx.resource(ReportsService)
    return retention.cleanup(service.db, service.settings)


@purge("reports")
def _purge_runs(resources: Resources, now: float) -> dict[str, int]:
    service = resources.get(ReportsService)
    return retention.cleanup(service.db, service.settings, now)
