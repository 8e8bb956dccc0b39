"""Seed 003's job API under /api/jobs/: its frontend keeps working, unchanged (SPEC §15).

`POST /api/jobs/{job_type}` with the payload as the body, `GET /api/jobs/{id}` and
`GET /api/jobs/status`, in that seed's words (`pending`, `running`, `completed`,
`failed`) and priorities (0 normal, 1 important, 2 critical, mapped onto Tally's 0-9,
higher first). Its job types resolve to Tally's tasks where one does the same work; any
Tally task name works too. The same auth as the native API, and nothing more shown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.concurrency import run_in_threadpool

from tally import keys
from tally.api.deps import Authenticated, ReadAuthenticated, RuntimeDep
from tally.api.docs import errors
from tally.errors import TaskUnknown, ValidationFailed
from tally.jobs.record import JobRecord, Status

router = APIRouter(prefix="/api/jobs", tags=["compatibility: seed 003 (Redis job queue)"])

# Seed 003's priorities onto Tally's (5 is Tally's default: its "normal" stays normal).
PRIORITIES: dict[int, int] = {0: 5, 1: 7, 2: 9}
STATUS_WORDS: dict[Status, str] = {
    Status.QUEUED: "pending",
    Status.RUNNING: "running",
    Status.RETRYING: "running",
    Status.SUCCEEDED: "completed",
    Status.FAILED: "failed",
    Status.ABORTED: "failed",
}
# Seed 003's job types that Tally's own tasks do; the scrapers have no counterpart.
JOB_TYPES: dict[str, str] = {"backup": keys.TASK_BACKUP, "cleanup": keys.TASK_CLEANUP}
BACKUP_KINDS: dict[str, str] = {"hourly": "incremental", "daily": "full"}
NOT_IN_TALLY = frozenset({"scrape", "scrape_source", "scrape_all"})


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def _task_and_kwargs(job_type: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if job_type in NOT_IN_TALLY:
        raise TaskUnknown(
            f"{job_type}: Tally does not scrape sources; send what a scraper finds as events "
            "(/api/v1/events) or comments to /api/v1/text/analyze"
        )
    if job_type == "backup":
        given = payload.get("backup_type", "hourly")
        if given not in BACKUP_KINDS:
            raise ValidationFailed("backup_type", "invalid", f"{given!r} is not hourly or daily")
        return keys.TASK_BACKUP, {"kind": BACKUP_KINDS[given]}
    return JOB_TYPES.get(job_type, job_type), payload


def seed_view(record: JobRecord) -> dict[str, Any]:
    """A job in seed 003's format, plus its progress."""
    return {
        "id": record.job_id,
        "job_type": record.task,
        "payload": record.kwargs,
        "status": STATUS_WORDS[record.status],
        "progress": record.progress,
        "priority": record.priority,
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at),
        "completed_at": _iso(record.finished_at),
        "error_message": record.error,
        "result": record.result,
    }


@router.get("/status", dependencies=[ReadAuthenticated], responses=errors(401, 503))
def queue_status(runtime: RuntimeDep) -> dict[str, int]:
    """Jobs waiting, running, and completed since midnight UTC, over all queues."""
    queues = runtime.inspector.queues()
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight.timestamp()
    names = list(keys.QUEUES)
    return {
        "pending": sum(q["pending"] + q["scheduled"] for q in queues),
        "processing": sum(q["running"] for q in queues),
        "completed_today": runtime.index.finished_since(names, Status.SUCCEEDED, since),
        "failed_today": runtime.index.finished_since(names, Status.FAILED, since),
    }


# Its 422s keep FastAPI's own shape (HTTPValidationError), as seed 003's app answered.
@router.post("/{job_type}", dependencies=[Authenticated], responses=errors(401, 404, 503))
async def create_job(
    runtime: RuntimeDep,
    job_type: Annotated[str, Path(min_length=1, max_length=200)],
    payload: Annotated[dict[str, Any] | None, Body()] = None,
    priority: Annotated[
        int, Query(ge=0, le=2, description="0 normal, 1 important, 2 critical")
    ] = 0,
) -> dict[str, Any]:
    """Create a job of `job_type` with the body as its payload; answer its id and status."""
    task, kwargs = _task_and_kwargs(job_type, dict(payload or {}))

    def send() -> JobRecord:
        record, _ = runtime.jobs.enqueue(task, kwargs=kwargs, priority=PRIORITIES[priority])
        return record

    record = await run_in_threadpool(send)
    return {"job_id": record.job_id, "status": STATUS_WORDS[record.status],
            "status_url": f"/api/jobs/{record.job_id}"}  # fmt: skip


@router.get("/{job_id}", dependencies=[ReadAuthenticated], responses=errors(401, 404, 503))
def get_job(runtime: RuntimeDep, job_id: str) -> dict[str, Any]:
    """A job: id, status, progress and result (404 for an unknown id)."""
    return seed_view(runtime.jobs.get(job_id))
