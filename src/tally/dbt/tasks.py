"""The dbt jobs on the `dbt` queue (concurrency 1), through the `dbt` breaker."""

from __future__ import annotations

from typing import Any

from tally import keys
from tally.dbt import log
from tally.dbt.runner import Selection
from tally.dbt.service import DbtService
from tally.errors import UnavailableError
from tally.jobs import Cron, JobContext, job
from tally.jobs.housekeeping import purge
from tally.jobs.resources import Resources
from tally.jobs.schedule import optional_cron
from tally.settings import DbtSettings
from tally.store.owner import StoreOwner


def build_schedule(dbt: DbtSettings) -> Cron | None:
    """TALLY_DBT_BUILD_SCHEDULE (unset: not scheduled)."""
    return optional_cron(dbt.build_schedule, "TALLY_DBT_BUILD_SCHEDULE")


def freshness_schedule(dbt: DbtSettings) -> Cron | None:
    """TALLY_DBT_FRESHNESS_SCHEDULE (unset: not scheduled)."""
    return optional_cron(dbt.freshness_schedule, "TALLY_DBT_FRESHNESS_SCHEDULE")


def docs_schedule(dbt: DbtSettings) -> Cron | None:
    """TALLY_DBT_DOCS_SCHEDULE (unset: not scheduled)."""
    return optional_cron(dbt.docs_schedule, "TALLY_DBT_DOCS_SCHEDULE")


def _run(ctx: JobContext, command: str, select: list[str] | None, exclude: list[str] | None,
         *, full_refresh: bool, variables: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    service = ctx.resource(DbtService)
    store = ctx.resource(StoreOwner).store()
    selection = Selection(list(select or []), list(exclude or []), full_refresh=full_refresh,
                          vars=dict(variables or {}))  # fmt: skip
    outcome = service.run(command, store, selection, ctx.report_progress, ctx.job_id)
    return outcome.summary()


_OPTIONS: dict[str, Any] = {
    "queue": keys.DBT_QUEUE, "breakers": ("dbt",), "max_tries": 2,
    "retry_for": (UnavailableError,),  # a failed model or test fails the job, untried again
}  # fmt: skip


@job(keys.TASK_DBT_BUILD, schedule=build_schedule, schedule_name="dbt-build", **_OPTIONS)
def dbt_build(
    ctx: JobContext,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    *,
    full_refresh: bool = False,
    vars: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`dbt build`: models, tests, snapshots and seeds, in DAG order."""
    return _run(ctx, "build", select, exclude, full_refresh=full_refresh, variables=vars)


@job(keys.TASK_DBT_RUN, **_OPTIONS)
def dbt_run(
    ctx: JobContext,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    *,
    full_refresh: bool = False,
    vars: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`dbt run`: build the models."""
    return _run(ctx, "run", select, exclude, full_refresh=full_refresh, variables=vars)


@job(keys.TASK_DBT_TEST, **_OPTIONS)
def dbt_test(
    ctx: JobContext,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    vars: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`dbt test`: the data tests."""
    return _run(ctx, "test", select, exclude, full_refresh=False, variables=vars)


@job(keys.TASK_DBT_DOCS, schedule=docs_schedule, schedule_name="dbt-docs", **_OPTIONS)
def dbt_docs_generate(ctx: JobContext, vars: dict[str, Any] | None = None) -> dict[str, Any]:
    """`dbt docs generate`: the docs served at /dbt/docs."""
    return _run(ctx, "docs_generate", None, None, full_refresh=False, variables=vars)


@job(keys.TASK_DBT_FRESHNESS, schedule=freshness_schedule, schedule_name="dbt-freshness",
     **_OPTIONS)  # fmt: skip
def dbt_source_freshness(ctx: JobContext, select: list[str] | None = None) -> dict[str, Any]:
    """`dbt source freshness`: a source past its error_after fails the job."""
    return _run(ctx, "source_freshness", select, None, full_refresh=False, variables=None)


@purge("dbt")
def _purge_log(resources: Resources, now: float) -> dict[str, int]:
    service = resources.get(DbtService)
    before = now - service.settings.log_retention_days * 86_400
    with service.db.session() as session:
        return {"refresh_log": log.delete_before(session.connection(), before)}
