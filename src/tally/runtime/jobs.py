"""The job platform as the API, CLI and SDK see it (SPEC §5)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import redis

from tally import keys
from tally.errors import Conflict
from tally.jobs.base import JobIndex
from tally.jobs.record import JobRecord, Status
from tally.queue import jobs
from tally.queue.base import PRIORITY_DEFAULT, TallyCelery
from tally.queue.heartbeat import workers_seen
from tally.queue.registry import REGISTRY
from tally.queue.schedule import schedule_table
from tally.settings import Settings


class JobOps:
    """Enqueue, read, wait for, list and abort jobs; queue and schedule views."""

    settings: Settings
    redis: redis.Redis | None
    app: TallyCelery
    index: JobIndex

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
        """Validate and enqueue; the same job_id twice returns the first job."""
        return jobs.enqueue(
            self.app, task, args, kwargs, priority=priority, queue=queue,
            countdown=countdown, eta=eta, job_id=job_id,
        )  # fmt: skip

    def job(self, job_id: str) -> JobRecord:
        """A job's record (NotFound for an unknown id)."""
        return jobs.get(self.app, job_id)

    def job_result(self, job_id: str) -> JobRecord:
        """A finished job's record (Conflict while unfinished)."""
        return jobs.result(self.app, job_id)

    def wait_job(self, job_id: str, timeout_s: float) -> JobRecord:
        """Block until the job is final."""
        return jobs.wait(self.app, job_id, timeout_s)

    def retry(self, job_id: str) -> JobRecord:
        """A new job with a failed or aborted job's task, arguments, priority and queue."""
        old = jobs.get(self.app, job_id)
        if old.status not in (Status.FAILED, Status.ABORTED):
            raise Conflict(
                f"job {job_id} is {old.status.value}: only failed or aborted jobs are retried",
                status=old.status.value,
            )
        record, _ = self.enqueue(old.task, kwargs=old.kwargs, priority=old.priority,
                                 queue=old.queue)  # fmt: skip
        return record

    def abort(self, job_id: str) -> str:
        """Abort a job: `aborted` or `aborting` (Conflict once finished)."""
        return jobs.abort(self.app, job_id)

    def jobs(self, status: Status | None, task: str | None, limit: int) -> list[JobRecord]:
        """Newest jobs first, filtered."""
        return jobs.recent(self.app, status, task, limit)

    def tasks(self) -> list[dict[str, Any]]:
        """Registered tasks with their queue, limits and argument schema."""
        return [spec.describe() for spec in sorted(REGISTRY.values(), key=lambda s: s.name)]

    def queues(self) -> list[dict[str, Any]]:
        """Per queue: waiting, held, running, finished in 24 h, and the workers consuming it."""
        now = time.time()
        consumers: dict[str, list[str]] = {q: [] for q in keys.QUEUES}
        depth: dict[str, int] = {}
        if self.redis is not None:
            for worker in workers_seen(self.redis):
                for queue in worker.get("queues") or []:
                    consumers.setdefault(queue, []).append(str(worker.get("name")))
            with self.redis.pipeline(transaction=False) as pipe:
                for queue in keys.QUEUES:
                    for key in keys.broker_queue_keys(queue):
                        pipe.llen(key)
                lengths = pipe.execute()
            steps = len(keys.PRIORITY_STEPS)
            for i, queue in enumerate(keys.QUEUES):
                depth[queue] = sum(lengths[i * steps : (i + 1) * steps])
        else:
            waiting = self.index.recent([Status.QUEUED], list(keys.QUEUES), 100_000)
            for queue in keys.QUEUES:
                depth[queue] = sum(1 for r in waiting if r.queue == queue and r.eta is None)
                consumers[queue] = ["embedded"]
        out = []
        for queue in keys.QUEUES:
            counts = self.index.counts(queue, now)
            out.append(
                {
                    "name": queue,
                    "pending": depth[queue],
                    "scheduled": counts.scheduled,
                    "running": counts.running,
                    "succeeded_24h": counts.succeeded_24h,
                    "failed_24h": counts.failed_24h,
                    "aborted_24h": counts.aborted_24h,
                    "workers": sorted(consumers.get(queue, [])),
                }
            )
        return out

    def schedule(self) -> list[dict[str, Any]]:
        """The schedule table with each entry's next run."""
        return schedule_table(self.settings)
