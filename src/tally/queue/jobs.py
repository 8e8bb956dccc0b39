"""Send jobs and wait for results, translating broker errors once, here."""

from __future__ import annotations

from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeout
from kombu.exceptions import OperationalError

from tally import keys
from tally.errors import JobError, JobTimeout, UnavailableError
from tally.queue.base import TallyCelery


def send(app: TallyCelery, task: str, *args: Any, **kwargs: Any) -> str:
    """Enqueue `task` and return its job id; 503-worthy error if the broker is down."""
    try:
        result = app.send_task(task, args=args, kwargs=kwargs, retry=False)
    except OperationalError as exc:
        raise UnavailableError("broker", f"cannot enqueue {task}: {exc}") from None
    return str(result.id)


def call(app: TallyCelery, task: str, timeout_s: float, *args: Any, **kwargs: Any) -> Any:
    """Enqueue `task` and wait for its result."""
    job_id = send(app, task, *args, **kwargs)
    result = app.AsyncResult(job_id)
    try:
        return result.get(timeout=timeout_s, propagate=True, disable_sync_subtasks=False)
    except CeleryTimeout:
        raise JobTimeout(
            f"job {job_id} ({task}) did not finish within {timeout_s:g} s; is a worker "
            "consuming the events queue?"
        ) from None
    except OperationalError as exc:
        raise UnavailableError("broker", str(exc)) from None
    except Exception as exc:
        raise JobError(f"job {job_id} ({task}) failed: {type(exc).__name__}: {exc}") from None


def request_flush(app: TallyCelery) -> str:
    """Enqueue a flush of the event buffer."""
    return send(app, keys.TASK_FLUSH)
