"""The Celery app class Tally uses: it records every publish in the job index."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from typing import Any
from uuid import uuid4

import orjson
from celery import Celery
from celery.result import AsyncResult

from tally.infra.breakers import Breakers
from tally.jobs.base import JobIndex
from tally.jobs.client import PRIORITY_DEFAULT, PRIORITY_MAX
from tally.jobs.record import JobRecord, Status
from tally.jobs.resources import Resources
from tally.queue.worker.watchdog import Watchdog
from tally.settings import Settings

# Above this delay a retry or a countdown waits in Redis (the job index), not in a
# worker's memory: eta messages held by workers pile up and are re-delivered after the
# visibility timeout (celery#5935).
HOLD_AFTER_S = 1.0
# Canvas options a held message could not carry; such a message keeps Celery's own eta.
_CANVAS = ("link", "link_error", "chord", "chain", "group_id")


def celery_priority(priority: int) -> int:
    """Tally's 0-9 (higher first) as Celery's Redis priority (0 is consumed first)."""
    return PRIORITY_MAX - priority


def tally_priority(celery: int | None) -> int:
    """A Celery message priority back in Tally's terms (None: the default)."""
    return PRIORITY_DEFAULT if celery is None else PRIORITY_MAX - int(celery)


def due_at(now: float, countdown: float | None, eta: datetime | None) -> float:
    """When a job sent at `now` with this countdown or eta is due (epoch seconds)."""
    return eta.timestamp() if eta is not None else now + (countdown or 0)


def attempt_of(request: Any) -> int:
    """The attempt a Celery request is: 1 for the first run, +1 per retry."""
    return int(request.retries or 0) + 1


def max_attempts_of(task: Any) -> int:
    """How many attempts a Celery task gets: its first run plus its retries."""
    return int(getattr(task, "max_retries", None) or 0) + 1


class TallyCelery(Celery):
    """A Celery app that carries the services its jobs use and the job index."""

    resources: Resources | None = None
    index: JobIndex
    breakers: Breakers
    settings: Settings
    _watchdog: Watchdog | None = None
    _watchdog_lock = threading.Lock()

    def watchdog(self) -> Watchdog:
        """This process's watchdog (a forked pool child starts its own)."""
        with self._watchdog_lock:
            if self._watchdog is None or self._watchdog.pid != os.getpid():
                self._watchdog = Watchdog(self.index, self.settings.jobs.abort_check_s)
            return self._watchdog

    def send_task(  # type: ignore[override]
        self,
        name: str,
        args: Any = None,
        kwargs: Any = None,
        countdown: float | None = None,
        eta: datetime | None = None,
        task_id: str | None = None,
        **options: Any,
    ) -> AsyncResult[Any]:
        """Publish a task, recording it in the job index (or holding it there until due)."""
        # A job deferred by an open breaker goes back like a retry, without counting one.
        deferred = bool(options.pop("tally_deferred", False))
        if options.pop("tally_indexed", False):
            return super().send_task(
                name, args, kwargs, countdown=countdown, eta=eta, task_id=task_id, **options
            )
        task_id = task_id or str(uuid4())
        now = time.time()
        due = due_at(now, countdown, eta)
        queue = str(options.get("queue") or self._queue_of(name))
        retries = int(options.get("retries") or 0)
        dispatch = {
            "task": name,
            "args": list(args or []),
            "kwargs": dict(kwargs or {}),
            "queue": queue,
            "priority": options.get("priority"),
            "retries": retries,
        }
        holdable = not any(options.get(k) for k in _CANVAS)
        if due - now > HOLD_AFTER_S and holdable and _plain(dispatch):
            if retries or deferred:
                self.index.transition(task_id, Status.RETRYING, eta=due)
                self.index.reschedule(task_id, queue, due, dispatch)
            else:
                record = self._record(name, task_id, queue, options, now, due)
                self.index.create(record, dispatch)
            return self.AsyncResult(task_id)
        if retries or deferred:
            self.index.transition(task_id, Status.RETRYING, eta=due if due > now else None)
        else:
            self.index.create(self._record(name, task_id, queue, options, now, None))
        return super().send_task(
            name, args, kwargs, countdown=countdown, eta=eta, task_id=task_id, **options
        )

    def _queue_of(self, name: str) -> str:
        route = (self.conf.task_routes or {}).get(name) or {}
        return str(route.get("queue") or self.conf.task_default_queue)

    def _record(
        self, name: str, task_id: str, queue: str, options: dict[str, Any], now: float, due: Any
    ) -> JobRecord:
        return JobRecord(
            job_id=task_id,
            task=name,
            queue=queue,
            priority=tally_priority(options.get("priority")),
            max_attempts=max_attempts_of(self.tasks.get(name)),
            created_at=now,
            eta=due,
        )


def _plain(dispatch: dict[str, Any]) -> bool:
    """True when a dispatch survives JSON (it is held in Redis as JSON)."""
    try:
        orjson.dumps(dispatch)
    except TypeError:
        return False
    return True
