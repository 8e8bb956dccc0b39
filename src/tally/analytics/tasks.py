"""The analytics job: popularity and trending computed in the store, published to the cache."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from tally import keys
from tally.analytics.compute import parse_as_of
from tally.analytics.publish import refresh
from tally.analytics.service import AnalyticsService
from tally.errors import ValidationFailed
from tally.jobs import Cron, JobContext, job
from tally.settings import AnalyticsSettings
from tally.store.owner import StoreOwner
from tally.store.tasks import DATABASE


def daily(analytics: AnalyticsSettings) -> Cron:
    """TALLY_ANALYTICS_SCHEDULE (default 02:00 UTC, seed 000)."""
    return Cron(analytics.schedule, setting="TALLY_ANALYTICS_SCHEDULE")


def on_startup(analytics: AnalyticsSettings) -> bool:
    """Seed 000 ran once when workers started (TALLY_ANALYTICS_ON_STARTUP)."""
    return analytics.on_startup


def _an_as_of(text: str) -> str:
    # Checked when the job is enqueued, so a bad time never reaches a worker.
    try:
        parse_as_of(text)
    except ValidationFailed as exc:
        raise ValueError(exc.message) from None
    return text


AsOf = Annotated[str, AfterValidator(_an_as_of)]


@job(
    keys.TASK_ANALYTICS_RUN,
    queue=keys.ANALYTICS_QUEUE,
    breakers=(DATABASE,),
    schedule=daily,
    schedule_name="analytics-daily",
    at_startup=on_startup,
)
def analytics_run(
    ctx: JobContext, as_of: AsOf | None = None, *, publish: bool | None = None
) -> dict[str, Any]:
    """Popularity and trending as of `as_of` (default now), published to the cache.

    `publish` (default: only a run as of now) writes the live keys seed 000's readers use;
    otherwise the run is a backfill, under keys of its own with the same TTL.
    """
    service = ctx.resource(AnalyticsService)
    when = None if as_of is None else parse_as_of(as_of)
    live = as_of is None if publish is None else publish
    target = service.publication if live else service.target(as_of)
    store = ctx.resource(StoreOwner).store()
    metadata = refresh(store, target, service.params, when, progress=ctx.report_progress)
    return {**metadata, "published": "live" if live else "backfill"}
