"""The job index inside this process (embedded mode): same contract, plain dicts."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import replace
from typing import Any

from tally.jobs.base import DAY_S, JobIndex, QueueCounts, Retention
from tally.jobs.record import FINAL, JobRecord, Status


class MemoryJobIndex(JobIndex):
    """Jobs of the all-in-one process; lost with it, like its queue."""

    kind = "memory"

    def __init__(self, retention: Retention) -> None:
        super().__init__(retention)
        self._jobs: dict[str, JobRecord] = {}
        self._held: dict[str, tuple[str, float, dict[str, Any]]] = {}  # id -> queue, eta, send
        self._lock = threading.Lock()

    def create(
        self, record: JobRecord, dispatch: dict[str, Any] | None = None
    ) -> tuple[JobRecord, bool]:
        with self._lock:
            self._expire(record.created_at)
            existing = self._jobs.get(record.job_id)
            if existing is not None:
                return copy.deepcopy(existing), False
            self._jobs[record.job_id] = copy.deepcopy(record)
            if dispatch is not None and record.eta is not None:
                self._held[record.job_id] = (record.queue, record.eta, dispatch)
            return record, True

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            record = self._jobs.get(job_id)
            return None if record is None else copy.deepcopy(record)

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
            self._held.pop(job_id, None)

    def transition(
        self, job_id: str, status: Status, *, upsert: dict[str, Any] | None = None, **fields: Any
    ) -> str:
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None:
                if not upsert:
                    return ""
                record = JobRecord(job_id=job_id, **upsert)
                self._jobs[job_id] = record
            if record.status in FINAL:
                return record.status.value
            updated = replace(record, status=status, **fields)
            self._jobs[job_id] = updated
            if status in FINAL:
                self._held.pop(job_id, None)
                self._cap(updated.queue, status)
            return "ok"

    def progress(self, job_id: str, pct: int, message: str | None) -> bool:
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None:
                return False
            if record.status is Status.RUNNING:
                record.progress = pct
                record.progress_message = message
            return record.abort_requested

    def abort(self, job_id: str, now: float) -> str:
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None:
                return ""
            if record.status in FINAL:
                return record.status.value
            record.abort_requested = True
            if record.status is Status.RUNNING:
                return "stopping"
            record.status = Status.ABORTED
            record.finished_at = now
            self._held.pop(job_id, None)
            return "aborted_now"

    def aborts_requested(self, job_ids: list[str]) -> set[str]:
        with self._lock:
            return {
                j for j in job_ids if (r := self._jobs.get(j)) is not None and r.abort_requested
            }

    def reschedule(self, job_id: str, queue: str, eta: float, dispatch: dict[str, Any]) -> None:
        with self._lock:
            self._held[job_id] = (queue, eta, dispatch)
            if (record := self._jobs.get(job_id)) is not None:
                record.eta = eta

    def claim_due(self, queue: str, now: float, lease_s: float) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            due = [(j, d) for j, (q, eta, d) in self._held.items() if q == queue and eta <= now]
            for job_id, dispatch in due:
                self._held[job_id] = (queue, now + lease_s, dispatch)
            return due

    def release(self, queue: str, job_id: str) -> None:
        with self._lock:
            self._held.pop(job_id, None)

    def recent(
        self, statuses: list[Status], queues: list[str], limit: int, task: str | None = None
    ) -> list[JobRecord]:
        with self._lock:
            self._expire(time.time())
            wanted, in_queues = set(statuses), set(queues)
            rows = [
                r
                for r in self._jobs.values()
                if r.status in wanted and r.queue in in_queues and task in (None, r.task)
            ]
        rows.sort(key=lambda r: r.finished_at or r.created_at, reverse=True)
        return [copy.deepcopy(r) for r in rows[:limit]]

    def prune(self, queues: list[str], before: float) -> int:
        with self._lock:
            old = [j for j, r in self._jobs.items() if r.queue in queues and r.status.final
                   and (r.finished_at or r.created_at) < before]  # fmt: skip
            for job_id in old:
                del self._jobs[job_id]
        return len(old)

    def counts(self, queue: str, now: float) -> QueueCounts:
        since = now - DAY_S
        with self._lock:
            mine = [r for r in self._jobs.values() if r.queue == queue]
            held = sum(1 for q, _, _ in self._held.values() if q == queue)

        def done(status: Status) -> int:
            return sum(1 for r in mine if r.status is status and (r.finished_at or 0) >= since)

        running = sum(1 for r in mine if r.status is Status.RUNNING)
        return QueueCounts(
            running, held, done(Status.SUCCEEDED), done(Status.FAILED), done(Status.ABORTED)
        )

    def finished_since(self, queues: list[str], status: Status, since: float) -> int:
        with self._lock:
            return sum(1 for r in self._jobs.values() if r.queue in queues
                       and r.status is status and (r.finished_at or 0) >= since)  # fmt: skip

    def _expire(self, now: float) -> None:
        cutoff = now - self.retention.ttl_s
        for job_id in [
            j for j, r in self._jobs.items() if (r.finished_at or r.created_at) < cutoff
        ]:
            del self._jobs[job_id]

    def _cap(self, queue: str, status: Status) -> None:
        same = [r for r in self._jobs.values() if r.queue == queue and r.status is status]
        over = len(same) - self.retention.max_per_queue
        if over > 0:
            same.sort(key=lambda r: r.finished_at or 0)
            for record in same[:over]:
                del self._jobs[record.job_id]
