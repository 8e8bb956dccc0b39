"""Enqueue jobs, read them, wait for them and abort them; broker errors translated here."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from kombu.exceptions import OperationalError

from tally import keys
from tally.errors import (
    Conflict,
    JobError,
    JobTimeout,
    NotFound,
    UnavailableError,
    ValidationFailed,
)
from tally.jobs.record import FINAL, JobRecord, Status
from tally.queue.base import (
    HOLD_AFTER_S,
    PRIORITY_DEFAULT,
    PRIORITY_MAX,
    PRIORITY_MIN,
    TallyCelery,
    celery_priority,
    due_at,
)
from tally.queue.registry import limits, spec

JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def enqueue(
    app: TallyCelery,
    task: str,
    args: list[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    *,
    priority: int = PRIORITY_DEFAULT,
    queue: str | None = None,
    countdown: float | None = None,
    eta: datetime | None = None,
    job_id: str | None = None,
) -> tuple[JobRecord, bool]:
    """Validate and enqueue a job; the same `job_id` twice gives back the first job.

    Returns the job's record and whether this call created it.
    """
    task_spec = spec(task)
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ValidationFailed("priority", "out_of_range", f"{priority} is not within 0-9")
    if queue is not None and queue not in keys.QUEUES:
        raise ValidationFailed("queue", "unknown_queue", f"unknown queue {queue!r}")
    if countdown is not None and eta is not None:
        raise ValidationFailed("eta", "conflict", "give countdown or eta, not both")
    if countdown is not None and countdown < 0:
        raise ValidationFailed("countdown", "negative", "countdown must be >= 0")
    if eta is not None and eta.tzinfo is None:
        raise ValidationFailed("eta", "naive_datetime", "eta needs a timezone, e.g. ...Z")
    if job_id is not None and not JOB_ID.match(job_id):
        raise ValidationFailed("job_id", "bad_format", "1-128 of A-Z a-z 0-9 _ . : -")
    payload = task_spec.schema.dump(task_spec.schema.validate(list(args or []), kwargs or {}))
    now = time.time()
    due = due_at(now, countdown, eta)
    held = due - now > HOLD_AFTER_S
    record = JobRecord(
        job_id=job_id or str(uuid.uuid4()),
        task=task,
        queue=queue or task_spec.queue,
        priority=priority,
        kwargs=payload,
        max_attempts=limits(task_spec, app.settings)[2],
        created_at=now,
        eta=due if due > now else None,
    )
    options: dict[str, Any] = {"queue": record.queue, "priority": celery_priority(priority)}
    dispatch = {"task": task, "args": [], "kwargs": payload, "retries": 0, **options}
    stored, created = app.index.create(record, dispatch if held else None)
    if not created:
        if stored.task != task:
            raise Conflict(
                f"job_id {stored.job_id!r} is already a {stored.task} job", stored.status
            )
        return stored, False
    if not held:
        try:
            app.send_task(
                task, kwargs=payload, task_id=record.job_id, retry=False, tally_indexed=True,
                **options,
            )  # fmt: skip
        except OperationalError as exc:
            app.index.delete(record.job_id)  # nothing half-written: no job without a message
            raise UnavailableError("broker", f"cannot enqueue {task}: {exc}") from None
    return record, True


def send(app: TallyCelery, task: str, **kwargs: Any) -> str:
    """Enqueue a job with default options; return its id."""
    record, _ = enqueue(app, task, kwargs=kwargs)
    return record.job_id


def get(app: TallyCelery, job_id: str) -> JobRecord:
    """A job's record; NotFound (404) for an unknown or expired id."""
    record = app.index.get(job_id)
    if record is None:
        raise NotFound(f"no job {job_id!r} (unknown, or older than the job history)")
    return record


def wait(app: TallyCelery, job_id: str, timeout_s: float) -> JobRecord:
    """Poll until the job is final; JobTimeout if it is not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    pause = 0.002
    while True:
        record = get(app, job_id)
        if record.status in FINAL:
            return record
        if time.monotonic() >= deadline:
            raise JobTimeout(
                f"job {job_id} ({record.task}) is still {record.status} after {timeout_s:g} s; "
                f"is a worker consuming the {record.queue} queue?"
            )
        time.sleep(pause)
        pause = min(pause * 1.5, 0.1)


def call(app: TallyCelery, task: str, timeout_s: float, **kwargs: Any) -> Any:
    """Enqueue a job, wait for it, and return its result (JobError if it did not succeed)."""
    record = wait(app, send(app, task, **kwargs), timeout_s)
    if record.status is not Status.SUCCEEDED:
        raise JobError(f"job {record.job_id} ({task}) {record.status}: {record.error}")
    return record.result


def result(app: TallyCelery, job_id: str) -> JobRecord:
    """A finished job's record; Conflict (409) with its status while it is not finished."""
    record = get(app, job_id)
    if record.status not in FINAL:
        raise Conflict(f"job {job_id} is {record.status}; no result yet", record.status)
    return record


def abort(app: TallyCelery, job_id: str) -> str:
    """Abort a job: `aborted` (it will never run) or `aborting` (running, being stopped)."""
    out = app.index.abort(job_id, time.time())
    if out == "":
        raise NotFound(f"no job {job_id!r} (unknown, or older than the job history)")
    if out == "aborted_now":
        return Status.ABORTED.value
    if out == "stopping":
        return "aborting"
    raise Conflict(f"job {job_id} already finished: {out}", out)


def recent(
    app: TallyCelery, status: Status | None, task: str | None, limit: int
) -> list[JobRecord]:
    """Newest jobs, optionally of one status and one task."""
    statuses = [status] if status is not None else list(Status)
    return app.index.recent(statuses, list(keys.QUEUES), limit, task)


def iso(ts: float | None) -> str | None:
    """A timestamp as ISO 8601 UTC."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def public(record: JobRecord) -> dict[str, Any]:
    """A job in the API's shape: SPEC §5 fields, timestamps in ISO 8601."""
    out = record.public()
    for name in ("created_at", "started_at", "finished_at", "eta"):
        out[name] = iso(out[name])
    return out
