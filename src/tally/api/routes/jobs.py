"""Job routes (SPEC §5): enqueue, status, result, abort, history, queues, tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from tally.api.deps import Authenticated, ReadAuthenticated, RuntimeDep
from tally.api.docs import (
    COMMON,
    JSON_NUMBER,
    Enqueued,
    JobsPage,
    JobView,
    QueuesPage,
    errors,
    job_links,
)
from tally.jobs.client import PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN
from tally.jobs.record import Status, public

router = APIRouter(prefix="/api/v1", tags=["jobs"])


class EnqueueRequest(BaseModel):
    """A job to run: the task's name and its arguments, checked against its signature."""

    model_config = ConfigDict(extra="forbid")
    task: StrictStr = Field(min_length=1, max_length=200, examples=["tally.noop"])
    args: list[Any] = Field(default_factory=list, max_length=100)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    priority: Annotated[
        int,
        Field(ge=PRIORITY_MIN, le=PRIORITY_MAX, description="0-9, higher runs first"),
        JSON_NUMBER,
    ] = PRIORITY_DEFAULT
    queue: StrictStr | None = Field(default=None, description="override the task's queue")
    countdown: Annotated[float, Field(ge=0, le=30 * 86_400), JSON_NUMBER] | None = None
    eta: datetime | None = Field(default=None, description="ISO 8601 with a timezone")
    job_id: StrictStr | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.:-]{1,128}$", description="idempotency key"
    )


@router.post(
    "/jobs",
    status_code=202,
    dependencies=[Authenticated],
    responses={202: {"model": Enqueued}, **errors(401, 404, *COMMON)},
)
async def post_job(runtime: RuntimeDep, body: EnqueueRequest) -> JSONResponse:
    """Enqueue a job: 202 with its id and where to follow it; the same job_id gives the same job."""
    record, created = await run_in_threadpool(
        runtime.jobs.enqueue,
        body.task,
        body.args,
        body.kwargs,
        priority=body.priority,
        queue=body.queue,
        countdown=body.countdown,
        eta=body.eta,
        job_id=body.job_id,
    )
    content = {
        "job_id": record.job_id,
        "status": record.status.value,
        "created": created,
        **job_links(record.job_id),
    }
    return JSONResponse(status_code=202, content=content)


@router.get(
    "/jobs/{job_id}",
    dependencies=[ReadAuthenticated],
    responses={200: {"model": JobView}, **errors(401, 404, *COMMON)},
)
def get_job(runtime: RuntimeDep, job_id: str) -> dict[str, Any]:
    """A job: status, progress, attempts, timestamps, and its result or error once finished."""
    return public(runtime.jobs.get(job_id))


@router.get(
    "/jobs/{job_id}/result",
    dependencies=[ReadAuthenticated],
    responses=errors(401, 404, 409, *COMMON),
)
def get_result(runtime: RuntimeDep, job_id: str) -> dict[str, Any]:
    """A finished job's result (or error); 409 with its status while it is not finished."""
    record = runtime.jobs.result(job_id)
    return {
        "job_id": record.job_id,
        "status": record.status.value,
        "result": record.result,
        "error": record.error,
    }


@router.delete(
    "/jobs/{job_id}",
    status_code=202,
    dependencies=[Authenticated],
    responses=errors(401, 404, 409, *COMMON),
)
def delete_job(runtime: RuntimeDep, job_id: str) -> dict[str, Any]:
    """Abort a job: a waiting one never runs, a running one is stopped; 409 once finished."""
    return {"job_id": job_id, "status": runtime.jobs.abort(job_id), **job_links(job_id)}


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    dependencies=[Authenticated],
    responses=errors(401, 404, 409, 503),
)
def retry_job(runtime: RuntimeDep, job_id: str) -> dict[str, Any]:
    """Run a failed or aborted job again as a new job (same task, arguments, queue)."""
    record = runtime.jobs.retry(job_id)
    return {"job_id": record.job_id, "status": record.status.value, "retry_of": job_id,
            **job_links(record.job_id)}  # fmt: skip


@router.get(
    "/jobs",
    dependencies=[ReadAuthenticated],
    responses={200: {"model": JobsPage}, **errors(401, *COMMON)},
)
def list_jobs(
    runtime: RuntimeDep,
    status: Annotated[Status | None, Query(description="only jobs in this status")] = None,
    task: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Recent jobs, latest change first: finished_at, else created_at (finished jobs are kept
    TALLY_JOB_HISTORY_TTL_S, 7 days)."""
    rows = runtime.jobs.recent(status, task, limit)
    return {"jobs": [public(r) for r in rows], "count": len(rows)}


@router.get("/queues", responses={200: {"model": QueuesPage}, **errors(503)})
def list_queues(runtime: RuntimeDep) -> dict[str, Any]:
    """Per queue: pending, held until their eta, running, finished in 24 h, and workers."""
    return {"queues": runtime.inspector.queues()}


@router.get("/tasks", responses=errors(503))
def list_tasks(runtime: RuntimeDep) -> dict[str, Any]:
    """Registered tasks with their queue, limits and argument schema."""
    return {"tasks": runtime.inspector.tasks()}


@router.get("/schedule", responses=errors(503))
def list_schedule(runtime: RuntimeDep) -> dict[str, Any]:
    """What the scheduler fires, and when next."""
    return {"schedule": runtime.inspector.schedule()}
