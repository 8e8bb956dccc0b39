"""The job client on Celery: enqueue, read, wait for, abort and retry jobs.

Broker errors (kombu) are translated here, the one place that publishes.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from typing import Any

from tally import keys
from tally.errors import (
    Conflict,
    JobError,
    JobTimeout,
    NotFound,
    UnavailableError,
    ValidationFailed,
)
from tally.jobs.client import PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN
from tally.jobs.record import FINAL, JobRecord, Status
from tally.jobs.registry import limits, spec
from tally.queue.base import HOLD_AFTER_S, TallyCelery, celery_priority, due_at
from tally.queue.errors import broker_errors

JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class CeleryJobClient:
    """`tally.jobs.JobClient` on a Tally Celery app (Redis, or the in-memory transport)."""

    def __init__(self, app: TallyCelery) -> None:
        self.app = app

    def enqueue(
        self,
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
        app = self.app
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
            max_attempts=limits(task_spec, app.settings.jobs)[2],
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
                with broker_errors(f"cannot enqueue {task}"):
                    app.send_task(
                        task, kwargs=payload, task_id=record.job_id, retry=False,
                        tally_indexed=True, **options,
                    )  # fmt: skip
            except UnavailableError:
                app.index.delete(record.job_id)  # nothing half-written: no job without a message
                raise
        return record, True

    def send(self, task: str, **kwargs: Any) -> str:
        """Enqueue a job with default options; return its id."""
        record, _ = self.enqueue(task, kwargs=kwargs)
        return record.job_id

    def get(self, job_id: str) -> JobRecord:
        """A job's record; NotFound (404) for an unknown or expired id."""
        record = self.app.index.get(job_id)
        if record is None:
            raise NotFound(f"no job {job_id!r} (unknown, or older than the job history)")
        return record

    def wait(self, job_id: str, timeout_s: float) -> JobRecord:
        """Poll until the job is final; JobTimeout if it is not within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        pause = 0.002
        while True:
            record = self.get(job_id)
            if record.status in FINAL:
                return record
            if time.monotonic() >= deadline:
                raise JobTimeout(
                    f"job {job_id} ({record.task}) is still {record.status} after "
                    f"{timeout_s:g} s; is a worker consuming the {record.queue} queue?"
                )
            time.sleep(pause)
            pause = min(pause * 1.5, 0.1)

    def call(self, task: str, timeout_s: float, **kwargs: Any) -> Any:
        """Enqueue a job, wait for it, and return its result (JobError unless it succeeded)."""
        record = self.wait(self.send(task, **kwargs), timeout_s)
        if record.status is not Status.SUCCEEDED:
            raise JobError(f"job {record.job_id} ({task}) {record.status}: {record.error}")
        return record.result

    def result(self, job_id: str) -> JobRecord:
        """A finished job's record; Conflict (409) with its status while it is not finished."""
        record = self.get(job_id)
        if record.status not in FINAL:
            raise Conflict(f"job {job_id} is {record.status}; no result yet", record.status)
        return record

    def abort(self, job_id: str) -> str:
        """Abort a job: `aborted` (it will never run) or `aborting` (running, being stopped)."""
        out = self.app.index.abort(job_id, time.time())
        if out == "":
            raise NotFound(f"no job {job_id!r} (unknown, or older than the job history)")
        if out == "aborted_now":
            return Status.ABORTED.value
        if out == "stopping":
            return "aborting"
        raise Conflict(f"job {job_id} already finished: {out}", out)

    def retry(self, job_id: str) -> JobRecord:
        """A new job with a failed or aborted job's task, arguments, priority and queue."""
        old = self.get(job_id)
        if old.status not in (Status.FAILED, Status.ABORTED):
            raise Conflict(
                f"job {job_id} is {old.status.value}: only failed or aborted jobs are retried",
                status=old.status.value,
            )
        record, _ = self.enqueue(
            old.task, kwargs=old.kwargs, priority=old.priority, queue=old.queue
        )
        return record

    def recent(self, status: Status | None, task: str | None, limit: int) -> list[JobRecord]:
        """Newest jobs, optionally of one status and one task."""
        statuses = [status] if status is not None else list(Status)
        return self.app.index.recent(statuses, list(keys.QUEUES), limit, task)
