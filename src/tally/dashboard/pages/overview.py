"""The overview: health, workers, breakers, queue depths and the last hour in charts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from tally.dashboard import charts
from tally.dashboard.history import History, Sample, per_minute
from tally.dashboard.pages.common import page, rt
from tally.errors import TallyError

router = APIRouter(include_in_schema=False)


def _kept(rows: list[dict[str, Any]]) -> list[Sample]:
    """The deployment's samples kept by `monitoring.collect` (the same in every API process)."""
    return [
        Sample(at=r["at"], waiting_jobs=r["waiting_jobs"] or 0, running_jobs=r["running_jobs"] or 0,
               buffered_events=r["buffered_events"] or 0, accepted_events=r["stored_events"],
               finished_jobs=r["finished_jobs_24h"] or 0)
        for r in rows if r["stored_events"] is not None
    ]  # fmt: skip


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    runtime = rt(request)
    ok, checks = await run_in_threadpool(runtime.health)
    try:
        kept = _kept(await run_in_threadpool(runtime.maintenance.samples))
    except TallyError:  # not migrated, or the metadata DB is down: this process's own samples
        kept = []
    history: History = request.app.state.history
    # The kept history survives restarts and agrees between API processes; this process's
    # own samples (events accepted here) stand in until monitoring.collect has written two.
    samples = kept if len(kept) >= 2 else history.samples()
    events_label = "Events stored per minute" if samples is kept else "Events accepted per minute"
    lines = {
        "Jobs waiting": charts.line([(s.at, s.waiting_jobs) for s in samples], title="waiting"),
        events_label: charts.line(
            per_minute(samples, lambda s: s.accepted_events), title="events per minute"
        ),
        "Jobs finished per minute": charts.line(
            per_minute(samples, lambda s: s.finished_jobs), title="jobs per minute"
        ),
        "Events in the buffer": charts.line(
            [(s.at, s.buffered_events) for s in samples], title="buffered events"
        ),
    }
    return page(request, "overview", ok=ok, checks=checks, lines=lines)
