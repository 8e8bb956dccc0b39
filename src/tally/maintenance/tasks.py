"""Maintenance and monitoring jobs: catalog, query and task statistics, metrics, cleanup,
backups; and the no-op that benchmarks and smoke tests use."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL

from tally import keys
from tally.errors import UnavailableError
from tally.jobs import Cron, Every, JobContext, check_aborted, job, report_progress
from tally.jobs.base import JobIndex
from tally.jobs.housekeeping import purge, run_all
from tally.jobs.record import Status
from tally.jobs.resources import Resources
from tally.jobs.schedule import optional_cron
from tally.maintenance import backup, catalog, monitoring, querystats
from tally.maintenance.monitoring import Figures
from tally.maintenance.service import MaintenanceService
from tally.settings import MaintenanceSettings
from tally.store.owner import StoreOwner
from tally.store.sql import Names

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Context:
    """What a worker gives maintenance jobs (built by the runtime)."""

    figures: Figures
    index: JobIndex
    names: Names
    metadata_url: URL
    job_retention_s: float
    busy: Callable[[], str | None]  # why a restore now would lose data, or None


@job(keys.TASK_NOOP, queue=keys.DEFAULT_QUEUE)
def noop(sleep_s: float = 0.0, steps: int = 1) -> dict[str, Any]:
    """Do nothing (benchmarks, smoke tests); with `sleep_s`, report progress in `steps`."""
    for step in range(steps):
        check_aborted()
        if sleep_s:
            time.sleep(sleep_s / steps)
        report_progress(100 * (step + 1) / steps, f"step {step + 1}/{steps}")
    return {"steps": steps}


def catalog_schedule(m: MaintenanceSettings) -> Cron | None:
    """TALLY_CATALOG_SCHEDULE."""
    return optional_cron(m.catalog_schedule, "TALLY_CATALOG_SCHEDULE")


def query_stats_schedule(m: MaintenanceSettings) -> Cron | None:
    """TALLY_QUERY_STATS_SCHEDULE."""
    return optional_cron(m.query_stats_schedule, "TALLY_QUERY_STATS_SCHEDULE")


def monitor_every(m: MaintenanceSettings) -> Every:
    """TALLY_MONITORING_INTERVAL_S."""
    return Every(m.monitoring_interval_s, expires_s=m.monitoring_interval_s)


def task_stats_schedule(m: MaintenanceSettings) -> Cron | None:
    """TALLY_TASK_STATS_SCHEDULE."""
    return optional_cron(m.task_stats_schedule, "TALLY_TASK_STATS_SCHEDULE")


def cleanup_schedule(m: MaintenanceSettings) -> Cron | None:
    """TALLY_CLEANUP_SCHEDULE."""
    return optional_cron(m.cleanup_schedule, "TALLY_CLEANUP_SCHEDULE")


def backup_schedule(m: MaintenanceSettings) -> Cron | None:
    """TALLY_BACKUP_SCHEDULE (incremental)."""
    return optional_cron(m.backup_schedule, "TALLY_BACKUP_SCHEDULE")


def full_backup_schedule(m: MaintenanceSettings) -> Cron | None:
    """TALLY_FULL_BACKUP_SCHEDULE."""
    return optional_cron(m.full_backup_schedule, "TALLY_FULL_BACKUP_SCHEDULE")


@job(keys.TASK_CATALOG, queue=keys.DEFAULT_QUEUE, schedule=catalog_schedule,
     schedule_name="maintenance-catalog", retry_for=(UnavailableError,))  # fmt: skip
def refresh_catalog(ctx: JobContext) -> dict[str, Any]:
    """The store's databases and tables: engines, rows, bytes, parts → analytics_catalog."""
    service = ctx.resource(MaintenanceService)
    rows = catalog.read(ctx.resource(StoreOwner).store())
    with service.db.session() as session:
        catalog.replace(session.connection(), rows)
    return {"tables": len(rows), "bytes_on_disk": sum(r["bytes_on_disk"] for r in rows)}


@job(keys.TASK_QUERY_STATS, queue=keys.DEFAULT_QUEUE, schedule=query_stats_schedule,
     schedule_name="maintenance-query-stats", retry_for=(UnavailableError,))  # fmt: skip
def query_stats(ctx: JobContext, hours: float = 2.0) -> dict[str, Any]:
    """The store's query log of the last `hours`, per hour and normalised query."""
    service = ctx.resource(MaintenanceService)
    since = time.time() - hours * 3600
    rows = querystats.read(ctx.resource(StoreOwner).store(), since - since % 3600)
    with service.db.session() as session:
        querystats.upsert(session.connection(), rows)
    return {"queries": len(rows), "calls": sum(r["calls"] for r in rows)}


@job(keys.TASK_MONITOR, queue=keys.MONITORING_QUEUE, schedule=monitor_every,
     schedule_name="monitoring-collect", max_tries=1)  # fmt: skip
def collect(ctx: JobContext) -> dict[str, Any]:
    """Each live process's CPU, memory and open files, and the deployment's figures."""
    service = ctx.resource(MaintenanceService)
    with service.db.session() as session:
        rows = monitoring.collect(session.connection(), ctx.resource(Context).figures,
                                  service.data_dir, time.time())  # fmt: skip
    return {"rows": rows}


@job(keys.TASK_TASK_STATS, queue=keys.MONITORING_QUEUE, schedule=task_stats_schedule,
     schedule_name="monitoring-task-statistics", max_tries=2)  # fmt: skip
def task_statistics(ctx: JobContext, hours: float = 2.0) -> dict[str, Any]:
    """Per task and hour: runs, failures, retries, p50/p95 → task_statistics."""
    service = ctx.resource(MaintenanceService)
    context = ctx.resource(Context)
    now = time.time()
    since = now - hours * 3600
    since -= since % 3600
    finals = [Status.SUCCEEDED, Status.FAILED, Status.ABORTED]
    records = context.index.recent(finals, list(keys.QUEUES), 10_000)
    with service.db.session() as session:
        rows = monitoring.task_statistics(session.connection(), records, since, now)
    return {"rows": rows}


@job(keys.TASK_CLEANUP, queue=keys.DEFAULT_QUEUE, schedule=cleanup_schedule,
     schedule_name="maintenance-cleanup", max_tries=2)  # fmt: skip
def cleanup(ctx: JobContext) -> dict[str, Any]:
    """Everything past its retention, capability by capability; counts of what went."""
    removed, errors = run_all(ctx.resources, time.time())
    return {"removed": removed, "errors": errors}


@purge("jobs")
def _purge_jobs(resources: Resources, now: float) -> dict[str, int]:
    context = resources.get(Context)
    before = now - context.job_retention_s
    return {"history": context.index.prune(list(keys.QUEUES), before)}


@purge("monitoring")
def _purge_monitoring(resources: Resources, now: float) -> dict[str, int]:
    service = resources.get(MaintenanceService)
    with service.db.session() as session:
        before = now - service.settings.monitoring_retention_days * DAY_S
        return monitoring.purge(session.connection(), before)


def _progress(ctx: JobContext) -> Callable[[float, str], None]:
    return ctx.report_progress


@job(keys.TASK_BACKUP, queue=keys.DEFAULT_QUEUE, max_tries=2, retry_for=(UnavailableError,),
     schedule=backup_schedule, schedule_name="maintenance-backup")  # fmt: skip
def backup_job(ctx: JobContext, kind: str = "incremental") -> dict[str, Any]:
    """Back up the store (incremental on the latest full) and the metadata DB."""
    service = ctx.resource(MaintenanceService)
    context = ctx.resource(Context)
    made = backup.create(
        ctx.resource(StoreOwner).store(), context.names, context.metadata_url,
        service.place, kind=kind, now=time.time(), progress=_progress(ctx),
    )  # fmt: skip
    return made.public()


@job("maintenance.full_backup", queue=keys.DEFAULT_QUEUE, max_tries=2,
     retry_for=(UnavailableError,), schedule=full_backup_schedule,
     schedule_name="maintenance-full-backup")  # fmt: skip
def full_backup(ctx: JobContext) -> dict[str, Any]:
    """A full backup (the base of the day's incremental ones), then old backups pruned."""
    result = backup_job(ctx, kind="full")
    service = ctx.resource(MaintenanceService)
    pruned = backup.prune(service.place, service.settings.backup_keep_days, time.time())
    return {**result, "pruned": pruned}


@job(keys.TASK_RESTORE, queue=keys.DEFAULT_QUEUE, max_tries=1)
def restore(ctx: JobContext, backup_id: str, force: bool = False) -> dict[str, Any]:  # noqa: FBT001, FBT002 - a job's keyword
    """Replace the store and the metadata DB with a backup's (refused during ingest)."""
    service = ctx.resource(MaintenanceService)
    context = ctx.resource(Context)
    done = backup.restore(ctx.resource(StoreOwner).store(), context.names, context.metadata_url,
                          service.place, backup_id, busy=context.busy(), force=force,
                          progress=_progress(ctx))  # fmt: skip
    return {"restored": done.public()}


@job(keys.TASK_BACKUP_PRUNE, queue=keys.DEFAULT_QUEUE, max_tries=1)
def prune_backups(ctx: JobContext, keep_days: float | None = None) -> dict[str, Any]:
    """Remove backups past TALLY_BACKUP_KEEP_DAYS (a full one a kept backup needs stays)."""
    service = ctx.resource(MaintenanceService)
    days = service.settings.backup_keep_days if keep_days is None else keep_days
    return {"removed": backup.prune(service.place, days, time.time())}
