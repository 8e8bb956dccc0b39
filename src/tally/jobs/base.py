"""The job index port: records, listings and held (scheduled) jobs; Redis or in-process."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from tally.jobs.record import JobRecord, Status

DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Retention:
    """How long finished jobs are kept, and how many per queue and status at most."""

    ttl_s: int
    max_per_queue: int


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """A queue's jobs by state: running now, and finished in the last 24 h."""

    running: int
    scheduled: int
    succeeded_24h: int
    failed_24h: int
    aborted_24h: int


class JobIndex(ABC):
    """Where every job is; written by publishers and by workers' task signals."""

    kind: str

    def __init__(self, retention: Retention) -> None:
        self.retention = retention

    @abstractmethod
    def create(
        self, record: JobRecord, dispatch: dict[str, Any] | None = None
    ) -> tuple[JobRecord, bool]:
        """Add `record` unless its id exists; return the stored record and whether it is new.

        With `dispatch` and `record.eta`, the job is held until its eta (see `claim_due`).
        """

    @abstractmethod
    def get(self, job_id: str) -> JobRecord | None:
        """The record of `job_id`, or None if unknown or expired."""

    @abstractmethod
    def delete(self, job_id: str) -> None:
        """Forget a job that was never sent (its publish failed)."""

    @abstractmethod
    def transition(
        self, job_id: str, status: Status, *, upsert: dict[str, Any] | None = None, **fields: Any
    ) -> str:
        """Move a job to `status`, writing `fields`.

        Refused once the job is final: returns the final status then, `"ok"` on success, or
        `""` for an unknown job (created from `upsert` when given).
        """

    @abstractmethod
    def progress(self, job_id: str, pct: int, message: str | None) -> bool:
        """Record a running job's progress; return True if an abort was requested."""

    @abstractmethod
    def abort(self, job_id: str, now: float) -> str:
        """Abort a job: a waiting one at once, a running one on request.

        Returns `aborted_now` (it will never run), `stopping` (a running job asked to
        stop), the final status if it had already finished, or `""` if unknown.
        """

    @abstractmethod
    def aborts_requested(self, job_ids: list[str]) -> set[str]:
        """Which of these running jobs were asked to stop."""

    @abstractmethod
    def reschedule(self, job_id: str, queue: str, eta: float, dispatch: dict[str, Any]) -> None:
        """Hold a job (a retry with a delay) until `eta`."""

    @abstractmethod
    def claim_due(self, queue: str, now: float, lease_s: float) -> list[tuple[str, dict[str, Any]]]:
        """Held jobs whose eta passed, leased for `lease_s` to the caller, with their dispatch.

        The caller sends each to the broker then calls `release`; a caller that dies first
        leaves the lease to lapse, and another claims the job again.
        """

    @abstractmethod
    def release(self, queue: str, job_id: str) -> None:
        """Drop a held job once it was sent."""

    @abstractmethod
    def recent(
        self, statuses: list[Status], queues: list[str], limit: int, task: str | None = None
    ) -> list[JobRecord]:
        """Jobs in these statuses and queues (of one task), latest change first.

        The latest change is when a job finished, or was created while it has not.
        """

    @abstractmethod
    def prune(self, queues: list[str], before: float) -> int:
        """Remove jobs of these queues that finished before `before`; how many."""

    @abstractmethod
    def counts(self, queue: str, now: float) -> QueueCounts:
        """Running, held, and finished-in-24h counts of a queue."""

    @abstractmethod
    def finished_since(self, queues: list[str], status: Status, since: float) -> int:
        """How many jobs of these queues reached the final `status` at or after `since`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
