"""The overview: health, workers, breakers, queue depths and the last hour in charts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from tally.dashboard import charts
from tally.dashboard.history import History, per_minute
from tally.dashboard.pages.common import page, rt

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    ok, checks = await run_in_threadpool(rt(request).health)
    history: History = request.app.state.history
    samples = history.samples()
    lines = {
        "Jobs waiting": charts.line([(s.at, s.waiting_jobs) for s in samples], title="waiting"),
        "Events accepted per minute": charts.line(
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
