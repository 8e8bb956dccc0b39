"""The job platform as capabilities, the API, the CLI and the SDK use it (Celery-free)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from tally.jobs.record import JobRecord, Status

PRIORITY_MIN, PRIORITY_MAX, PRIORITY_DEFAULT = 0, 9, 5


class JobClient(Protocol):
    """Enqueue, read, wait for, abort and retry jobs (SPEC §5); `queue.client` implements it."""

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
        """Validate and enqueue; the same job_id twice returns the first job (created False)."""
        ...

    def send(self, task: str, **kwargs: Any) -> str:
        """Enqueue with default options; return the job id."""
        ...

    def get(self, job_id: str) -> JobRecord:
        """A job's record (NotFound for an unknown id)."""
        ...

    def result(self, job_id: str) -> JobRecord:
        """A finished job's record (Conflict while unfinished)."""
        ...

    def wait(self, job_id: str, timeout_s: float) -> JobRecord:
        """Block until the job is final (JobTimeout after `timeout_s`)."""
        ...

    def call(self, task: str, timeout_s: float, **kwargs: Any) -> Any:
        """Enqueue, wait and return the result (JobError unless it succeeded)."""
        ...

    def abort(self, job_id: str) -> str:
        """Abort: `aborted` (never runs) or `aborting` (being stopped); Conflict once final."""
        ...

    def retry(self, job_id: str) -> JobRecord:
        """A new job with a failed or aborted job's task, arguments and queue."""
        ...

    def recent(self, status: Status | None, task: str | None, limit: int) -> list[JobRecord]:
        """Newest jobs first, filtered."""
        ...
