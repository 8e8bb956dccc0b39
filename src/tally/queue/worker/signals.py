"""Job index transitions from Celery's task signals: started, retry, success, failure, revoked."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.signals import task_failure, task_prerun, task_retry, task_revoked, task_success
from prometheus_client import Counter, Histogram

from tally.jobs import hooks
from tally.jobs.record import FINAL, Status
from tally.queue.base import TallyCelery, attempt_of, max_attempts_of

log = logging.getLogger("tally.jobs")

# Jobs (SPEC §7). Labels are the task and its queue, never a job id: bounded cardinality.
JOBS = Counter(
    "tally_jobs_total",
    "Job state changes: started, succeeded, failed, retried, aborted, deferred, skipped, requeued",
    ["task", "queue", "state"],
)
JOB_DURATION = Histogram(
    "tally_job_duration_seconds",
    "Run time of finished jobs (succeeded or failed), per task",
    ["task", "queue"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800),
)


def connect(app: TallyCelery) -> None:  # noqa: C901 - one short closure per Celery signal
    """Connect the handlers for tasks of `app` (other apps in the process are left alone)."""

    def mine(sender: Any) -> bool:
        return getattr(sender, "app", None) is app

    def send(name: str, kwargs: dict[str, Any]) -> str:
        return str(app.send_task(name, kwargs=kwargs).id)

    def started(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
        if not mine(sender):
            return
        request = task.request
        attempt, attempts = attempt_of(request), max_attempts_of(task)
        now = time.time()
        upsert = {"task": task.name, "queue": queue_of(app, task)}
        out = app.index.transition(
            task_id,
            Status.RUNNING,
            upsert=upsert | {"created_at": now, "max_attempts": attempts},
            started_at=now,
            attempts=attempt,
            worker=request.hostname,
        )
        if out in {s.value for s in FINAL}:
            request.tally_skip = out
            log.info("job %s not run: it is already %s", task_id, out)
            return
        request.tally_started = time.monotonic()
        JOBS.labels(task.name, upsert["queue"], "started").inc()
        job_log(
            logging.INFO, "started", job_id=task_id, task=task.name, queue=upsert["queue"],
            attempt=attempt, max_attempts=attempts,
        )  # fmt: skip

    def succeeded(sender: Any = None, result: Any = None, **_: Any) -> None:
        if not mine(sender) or getattr(sender.request, "tally_skip", None):
            return
        request = sender.request
        queue, duration_s = _finished(app, sender, "succeeded")
        app.index.transition(
            request.id,
            Status.SUCCEEDED,
            finished_at=time.time(),
            result=result,
            progress=100,
            error=None,
        )
        job_log(
            logging.INFO, "finished", job_id=request.id, task=sender.name, queue=queue,
            duration_s=round(duration_s, 3), attempt=attempt_of(request),
        )  # fmt: skip
        ended = hooks.Ended(request.id, sender.name, queue, failed=False, result=result)
        hooks.finished(ended, send, app.resources)

    def failed(
        sender: Any = None, task_id: str = "", exception: BaseException | None = None, **_: Any
    ) -> None:
        if not mine(sender):
            return
        error = f"{type(exception).__name__}: {exception}"
        queue, duration_s = _finished(app, sender, "failed")
        app.index.transition(task_id, Status.FAILED, finished_at=time.time(), error=error)
        job_log(
            logging.WARNING, "failed", job_id=task_id, task=sender.name, queue=queue,
            duration_s=round(duration_s, 3), attempt=attempt_of(sender.request), error=error,
        )  # fmt: skip
        hooks.finished(
            hooks.Ended(task_id, sender.name, queue, failed=True, error=error), send, app.resources
        )

    def retrying(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        if not mine(sender):
            return
        app.index.transition(request.id, Status.RETRYING, error=f"{reason}")
        queue = queue_of(app, sender)
        JOBS.labels(sender.name, queue, "retried").inc()
        job_log(
            logging.INFO, "retrying", job_id=request.id, task=sender.name, queue=queue,
            attempt=attempt_of(request), reason=str(reason),
        )  # fmt: skip

    def revoked(
        sender: Any = None, request: Any = None, *, expired: bool = False, **_: Any
    ) -> None:
        if not mine(sender):
            return
        error = "expired before it started" if expired else "revoked"
        JOBS.labels(sender.name, queue_of(app, sender), "aborted").inc()
        app.index.transition(request.id, Status.ABORTED, finished_at=time.time(), error=error)

    for signal, handler in (
        (task_prerun, started),
        (task_success, succeeded),
        (task_failure, failed),
        (task_retry, retrying),
        (task_revoked, revoked),
    ):
        signal.connect(handler, weak=False)


def job_log(level: int, event: str, **fields: Any) -> None:
    """One line per job event: `job <event>: k=v ...` in text, the same fields in JSON."""
    text = " ".join(f"{k}={v}" for k, v in fields.items())
    log.log(level, "job %s: %s", event, text, extra={"event": f"job_{event}", **fields})


def queue_of(app: TallyCelery, task: Any) -> str:
    """The queue a task's current message came from (its route when unknown)."""
    info = getattr(task.request, "delivery_info", None) or {}
    queue = info.get("routing_key") or getattr(task, "queue", None)
    return str(queue or app.conf.task_default_queue)


def _finished(app: TallyCelery, task: Any, state: str) -> tuple[str, float]:
    """Count a finished job and its run time; return its queue and run time (0: unknown)."""
    queue = queue_of(app, task)
    JOBS.labels(task.name, queue, state).inc()
    started = getattr(task.request, "tally_started", None)
    if started is None:
        return queue, 0.0
    duration_s = time.monotonic() - started
    JOB_DURATION.labels(task.name, queue).observe(duration_s)
    return queue, duration_s
