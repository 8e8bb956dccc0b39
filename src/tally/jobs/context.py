"""What a running job can do: report progress, check for an abort, use its process's services."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from tally.errors import JobAborted, ValidationFailed
from tally.infra.breakers import Breakers
from tally.jobs.base import JobIndex
from tally.jobs.resources import Resources

T = TypeVar("T")

# Progress writes are throttled to this interval; the API still sees them within a second.
PROGRESS_MIN_INTERVAL_S = 0.2


@dataclass
class JobContext:
    """The running job: given to tasks that declare a parameter of this type."""

    job_id: str
    task: str
    queue: str
    attempt: int
    max_attempts: int
    index: JobIndex
    resources: Resources = field(default_factory=Resources)
    enqueue: Callable[..., str] | None = None  # enqueue a follow-up job: (task, **kwargs) -> id
    breakers: Breakers | None = None
    _last_write: float = field(default=0.0, init=False)

    def resource(self, kind: type[T]) -> T:
        """The process's service of type `kind` (the store's owner, the result cache, …)."""
        return self.resources.get(kind)

    def report_progress(self, pct: float, message: str | None = None) -> None:
        """Publish progress (0-100); raises JobAborted if the job was asked to stop."""
        if not 0 <= pct <= 100:
            raise ValidationFailed("pct", "out_of_range", f"progress {pct} is not within 0-100")
        now = time.monotonic()
        if pct < 100 and now - self._last_write < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_write = now
        if self.index.progress(self.job_id, int(pct), message):
            raise JobAborted(self.job_id)

    def check_aborted(self) -> None:
        """Raise JobAborted if someone aborted this job (a cheap poll for long loops)."""
        if self.index.aborts_requested([self.job_id]):
            raise JobAborted(self.job_id)

    @contextmanager
    def breaker(self, name: str) -> Iterator[None]:
        """Guard a call with the shared breaker `name`; open, it defers the job (no try used)."""
        if self.breakers is None:
            raise RuntimeError("this job runs without circuit breakers")
        with self.breakers.guard(name):
            yield


CURRENT: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "tally_job", default=None
)


def current_job() -> JobContext | None:
    """The job running in this thread, if any."""
    return CURRENT.get()


def report_progress(pct: float, message: str | None = None) -> None:
    """Publish the running job's progress; a no-op outside a job."""
    ctx = CURRENT.get()
    if ctx is not None:
        ctx.report_progress(pct, message)


def check_aborted() -> None:
    """Raise JobAborted if the running job was aborted; a no-op outside a job."""
    ctx = CURRENT.get()
    if ctx is not None:
        ctx.check_aborted()
