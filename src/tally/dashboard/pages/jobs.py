"""Jobs (filter, detail with live progress, abort, retry), queues and workers, schedules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from tally.dashboard import charts
from tally.dashboard.pages.common import act, page, rt
from tally.errors import NotFound
from tally.jobs.record import Status, public
from tally.runtime.runtime import Runtime

router = APIRouter(include_in_schema=False)


@router.get("/jobs", response_class=HTMLResponse)
async def jobs_page(
    request: Request,
    status: Annotated[str, Query()] = "",
    task: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    runtime = rt(request)
    chosen = Status(status) if status in {s.value for s in Status} else None
    rows = await run_in_threadpool(runtime.jobs.recent, chosen, task or None, 200)
    tasks = sorted(t["name"] for t in runtime.inspector.tasks())
    return page(
        request,
        "jobs",
        jobs=[public(r) for r in rows],
        statuses=[s.value for s in Status],
        status=status,
        task=task,
        tasks=tasks,
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, job_id: str) -> Response:
    try:
        record = await run_in_threadpool(rt(request).jobs.get, job_id)
    except NotFound as exc:
        return page(request, "missing", status_code=404, message=str(exc))
    return page(request, "job", job=public(record), final=record.status.final)


@router.post("/jobs/{job_id}/abort")
def abort_job(request: Request, job_id: str) -> Response:
    where = f"/jobs/{job_id}"
    return act(request, where, lambda r: (where, f"abort requested: {r.jobs.abort(job_id)}"))


@router.post("/jobs/{job_id}/retry")
def retry_job(request: Request, job_id: str) -> Response:
    def retry(r: Runtime) -> tuple[str, str]:
        return f"/jobs/{r.jobs.retry(job_id).job_id}", f"retry of {job_id}"

    return act(request, f"/jobs/{job_id}", retry)


@router.get("/queues", response_class=HTMLResponse)
async def queues_page(request: Request) -> Response:
    inspector = rt(request).inspector
    queues = await run_in_threadpool(inspector.queues)
    workers = await run_in_threadpool(inspector.workers)
    depth = charts.bars(
        [(q["name"], float(q["pending"] + q["scheduled"])) for q in queues], title="waiting"
    )
    return page(request, "queues", queues=queues, workers=workers, depth=depth)


@router.get("/schedules", response_class=HTMLResponse)
def schedules_page(request: Request) -> Response:
    runtime = rt(request)
    schedule = runtime.inspector.schedule()
    return page(request, "schedules", schedule=schedule, mode=runtime.mode.value)
