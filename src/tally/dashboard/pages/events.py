"""The event buffer: waiting events, the oldest one's age, rejections by reason, flush now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from prometheus_client import REGISTRY

from tally.dashboard import charts
from tally.dashboard.pages.common import act, page, rt
from tally.errors import TallyError
from tally.runtime.runtime import Runtime

router = APIRouter(include_in_schema=False)


@router.get("/buffer", response_class=HTMLResponse)
async def buffer_page(request: Request) -> Response:
    try:
        info = await run_in_threadpool(rt(request).events.buffer_info)
    except TallyError as exc:
        info = {"status": "unavailable", "error": str(exc)}
    rejected = sorted(
        (
            (s.labels["reason"], s.value)
            for metric in REGISTRY.collect()
            if metric.name == "tally_events_rejected"
            for s in metric.samples
            if s.name.endswith("_total")
        ),
        key=lambda r: -r[1],
    )
    chart = charts.bars([(r, float(v)) for r, v in rejected], title="rejected by reason")
    return page(request, "buffer", info=info, rejected=rejected, chart=chart)


@router.post("/buffer/flush")
def flush_now(request: Request) -> Response:
    def flush(r: Runtime) -> tuple[str, str]:
        return "/buffer", f"flush queued: job {r.store.flush(wait=False, timeout_s=0.0)['job_id']}"

    return act(request, "/buffer", flush)
