"""Send jobs and wait for results, translating broker errors once, here."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class JobState:
    """A job as its caller sees it."""

    job_id: str
    state: str
    progress: int | None
    message: str | None
    result: Any = None
    error: str | None = None

    @property
    def done(self) -> bool:
        """True once the job succeeded or failed for good."""
        return self.state in ("SUCCESS", "FAILURE", "REVOKED")


def state(app: TallyCelery, job_id: str) -> JobState:
    """Read a job's state, progress and result from the result backend."""
    result = app.AsyncResult(job_id)
    try:
        status = str(result.state)
        info: Any = result.info
    except OperationalError as exc:
        raise UnavailableError("broker", str(exc)) from None
    if status == "SUCCESS":
        return JobState(job_id, status, 100, "done", result=info)
    if status == "FAILURE":
        return JobState(job_id, status, None, None, error=f"{type(info).__name__}: {info}")
    meta = info if isinstance(info, dict) else {}
    return JobState(job_id, status, meta.get("progress"), meta.get("message"))
