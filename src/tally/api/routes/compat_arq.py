"""Seed 002's ARQ API under /api/v1/arq/: its callers keep working, unchanged (SPEC §15).

Its task names resolve to Tally's built-in tasks where one does the same work, its status
words (`queued`, `deferred`, `in_progress`, `complete`, `not_found`) are mapped from
Tally's, and its validation errors keep FastAPI's `{"detail": [...]}` shape. The same
auth as the native API; nothing is shown that the native API does not show.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from tally import keys
from tally.api.deps import Authenticated, ReadAuthenticated, RuntimeDep
from tally.api.docs import errors
from tally.errors import NotFound, TallyError, TaskUnknown
from tally.jobs.record import JobRecord, Status

# A 422 here is FastAPI's own (HTTPValidationError, documented by FastAPI): seed 002's shape.
router = APIRouter(prefix="/api/v1/arq", tags=["compatibility: seed 002 (ARQ)"])

# Seed 002's functions that Tally's own tasks do (None: Tally has no such task).
ALIASES: dict[str, str | None] = {
    "cleanup_old_data": keys.TASK_CLEANUP,
    "update_statistics": keys.TASK_TASK_STATS,
    "backup_database": keys.TASK_BACKUP,
    "analyze_text_morphology": "analyze_text_morphology",
    "extract_keywords": "extract_keywords",
    "process_batch_comments": "process_batch_comments",
    "generate_report": None,  # a saved report run now: kwargs {"report": id or name}
    "send_notification": None,
    "parse_vk_comments": None,
}
NO_SUCH: dict[str, str] = {
    "send_notification": "Tally sends notifications through alert rules and channels "
    "(/api/v1/alerts), not as a free-standing task",
    "parse_vk_comments": "Tally does not parse VK comments; send them as events, or to "
    "/api/v1/text/analyze",
}


class EnqueueIn(BaseModel):
    """Seed 002's enqueue body."""

    model_config = ConfigDict(extra="forbid")
    function_name: str = Field(min_length=1, max_length=200)
    args: list[Any] = Field(default_factory=list, max_length=100)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    job_id: str | None = Field(default=None, max_length=200, alias="_job_id")
    defer_by: float | None = Field(default=None, ge=0, le=30 * 86_400, alias="_defer_by")


def _iso(at: float | None) -> str | None:
    return (
        None if at is None else datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    )


def arq_status(record: JobRecord | None) -> str:
    """Tally's status in seed 002's words."""
    if record is None:
        return "not_found"
    if record.status is Status.QUEUED:
        return "deferred" if record.eta is not None and record.eta > time.time() else "queued"
    if record.status in (Status.RUNNING, Status.RETRYING):
        return "in_progress"
    return "complete"


def _links(job_id: str) -> dict[str, str]:
    return {"status_url": f"/api/v1/arq/status/{job_id}",
            "result_url": f"/api/v1/arq/result/{job_id}"}  # fmt: skip


def _record(runtime: Any, job_id: str) -> JobRecord | None:
    try:
        found: JobRecord = runtime.jobs.get(job_id)
        return found
    except NotFound:
        return None


@router.post("/enqueue", dependencies=[Authenticated], responses=errors(401, 404, 503))
async def enqueue(runtime: RuntimeDep, body: Annotated[EnqueueIn, Body()]) -> dict[str, Any]:
    """Add a job by seed 002's function name (or any Tally task name)."""
    name = body.function_name
    if name in ALIASES and ALIASES[name] is None:
        if name == "generate_report":
            ref = body.kwargs.get("report") or (body.args[0] if body.args else None)
            if ref is None:
                raise NotFound("generate_report needs kwargs.report: a saved report's id or name")
            started = await run_in_threadpool(runtime.reports.run_now, str(ref))
            job_id = started["job_id"]
            task = keys.TASK_REPORTS_RUN
        else:
            raise TaskUnknown(f"{name}: {NO_SUCH.get(name, 'no such task in Tally')}")
    else:
        task = ALIASES.get(name) or name
        kwargs = dict(body.kwargs)
        if name == "backup_database":
            kwargs.setdefault("kind", "full")

        def send() -> str:
            record, _ = runtime.jobs.enqueue(
                task, list(body.args), kwargs, job_id=body.job_id, countdown=body.defer_by
            )
            return str(record.job_id)

        job_id = await run_in_threadpool(send)
    data = {"job_id": job_id, "function": name, "task": task, **_links(job_id)}
    return {"success": True, "message": f"{name} queued", "job_id": job_id, "data": data}


@router.get("/status/{job_id}", dependencies=[ReadAuthenticated], responses=errors(401, 503))
def status(runtime: RuntimeDep, job_id: str) -> dict[str, Any]:
    """A job's status in seed 002's words (`not_found` for an unknown id)."""
    record = _record(runtime, job_id)
    out: dict[str, Any] = {"job_id": job_id, "status": arq_status(record)}
    if record is not None:
        out |= {"function": record.task, "enqueue_time": _iso(record.created_at),
                "start_time": _iso(record.started_at), "finished_at": _iso(record.finished_at),
                "progress": record.progress, "tries": record.attempts}  # fmt: skip
        if out["status"] == "complete":
            out |= {"success": record.status is Status.SUCCEEDED, "result": record.result}
    return out


@router.get("/result/{job_id}", dependencies=[ReadAuthenticated], responses=errors(401, 503))
def result(runtime: RuntimeDep, job_id: str) -> dict[str, Any]:
    """A finished job's result (`success` false with its error when it failed)."""
    record = _record(runtime, job_id)
    state = arq_status(record)
    out: dict[str, Any] = {"job_id": job_id, "status": state, "result": None}
    if record is not None and state == "complete":
        out |= {"success": record.status is Status.SUCCEEDED, "result": record.result,
                "error": record.error, "finished_at": _iso(record.finished_at)}  # fmt: skip
    return out


@router.delete("/abort/{job_id}", dependencies=[Authenticated], responses=errors(401, 503))
def abort(runtime: RuntimeDep, job_id: str) -> dict[str, Any]:
    """Abort a job: `aborted` true when it will not run (or is being stopped)."""
    try:
        outcome = runtime.jobs.abort(job_id)
    except NotFound:
        return {"job_id": job_id, "aborted": False, "status": "not_found"}
    except TallyError as exc:  # finished already
        return {"job_id": job_id, "aborted": False, "status": "complete", "message": str(exc)}
    return {"job_id": job_id, "aborted": True, "status": outcome}


def _queue_info(runtime: Any) -> dict[str, Any]:
    queues = runtime.inspector.queues()
    return {
        "queue_name": runtime.settings.compat.arq_queue_name,
        "queued_jobs_count": sum(q["pending"] + q["scheduled"] for q in queues),
        "in_progress_jobs_count": sum(q["running"] for q in queues),
        "queues": {q["name"]: q["pending"] + q["scheduled"] for q in queues},
    }


@router.get("/queue/info", dependencies=[ReadAuthenticated], responses=errors(401, 503))
def queue_info(runtime: RuntimeDep) -> dict[str, Any]:
    """Jobs waiting and running, in all (seed 002 had one queue) and per Tally queue."""
    return _queue_info(runtime)


@router.get("/health", responses=errors(503))
def health(runtime: RuntimeDep) -> dict[str, Any]:
    """Seed 002's health answer: service, healthy, timestamp, details."""
    healthy, checks = runtime.health()
    try:
        info: dict[str, Any] | None = _queue_info(runtime)
    except TallyError:
        info = None
    redis = checks.get("redis", {})
    connected = redis.get("status") in ("ok", "not used (embedded)")
    return {"service": "ARQ", "healthy": healthy, "timestamp": _iso(time.time()),
            "details": {"redis_connected": connected, "queue_info": info}}  # fmt: skip
