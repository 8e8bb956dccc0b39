"""Job index transitions from Celery's task signals: started, retry, success, failure, revoked."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.signals import task_failure, task_prerun, task_retry, task_revoked, task_success

from tally.jobs.record import FINAL, Status
from tally.queue.base import TallyCelery, attempt_of, max_attempts_of

log = logging.getLogger("tally.jobs")


def connect(app: TallyCelery) -> None:
    """Connect the handlers for tasks of `app` (other apps in the process are left alone)."""

    def mine(sender: Any) -> bool:
        return getattr(sender, "app", None) is app

    def started(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
        if not mine(sender):
            return
        request = task.request
        attempt, attempts = attempt_of(request), max_attempts_of(task)
        now = time.time()
        queue = (request.delivery_info or {}).get("routing_key") or getattr(task, "queue", None)
        upsert = {"task": task.name, "queue": queue or app.conf.task_default_queue}
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
        log.info(
            "job started: id=%s task=%s queue=%s attempt=%d/%d",
            task_id, task.name, upsert["queue"], attempt, attempts,
        )  # fmt: skip

    def succeeded(sender: Any = None, result: Any = None, **_: Any) -> None:
        if not mine(sender) or getattr(sender.request, "tally_skip", None):
            return
        request = sender.request
        app.index.transition(
            request.id,
            Status.SUCCEEDED,
            finished_at=time.time(),
            result=result,
            progress=100,
            error=None,
        )
        log.info(
            "job finished: id=%s task=%s duration_s=%.3f attempt=%d",
            request.id, sender.name, _duration(request), attempt_of(request),
        )  # fmt: skip

    def failed(
        sender: Any = None, task_id: str = "", exception: BaseException | None = None, **_: Any
    ) -> None:
        if not mine(sender):
            return
        error = f"{type(exception).__name__}: {exception}"
        app.index.transition(task_id, Status.FAILED, finished_at=time.time(), error=error)
        log.warning(
            "job failed: id=%s task=%s duration_s=%.3f error=%s",
            task_id, sender.name, _duration(sender.request), error,
        )  # fmt: skip

    def retrying(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        if not mine(sender):
            return
        app.index.transition(request.id, Status.RETRYING, error=f"{reason}")
        log.info(
            "job retrying: id=%s task=%s attempt=%d reason=%s",
            request.id, sender.name, attempt_of(request), reason,
        )  # fmt: skip

    def revoked(sender: Any = None, request: Any = None, expired: bool = False, **_: Any) -> None:
        if not mine(sender):
            return
        error = "expired before it started" if expired else "revoked"
        app.index.transition(request.id, Status.ABORTED, finished_at=time.time(), error=error)

    for signal, handler in (
        (task_prerun, started),
        (task_success, succeeded),
        (task_failure, failed),
        (task_retry, retrying),
        (task_revoked, revoked),
    ):
        signal.connect(handler, weak=False)


def _duration(request: Any) -> float:
    started = getattr(request, "tally_started", None)
    return 0.0 if started is None else time.monotonic() - started
