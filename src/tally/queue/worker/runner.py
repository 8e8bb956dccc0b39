"""Run a registered task inside Celery: validate, watch, and translate how it ended."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Reject, SoftTimeLimitExceeded, TimeLimitExceeded
from pydantic_core import to_jsonable_python

from tally.errors import (
    BreakerOpen,
    JobAborted,
    JobFailed,
    JobRequeued,
    JobTimedOut,
    ValidationFailed,
)
from tally.jobs.context import CURRENT, JobContext
from tally.jobs.record import Status
from tally.jobs.registry import REGISTRY, TaskSpec, WhenOpen, limits
from tally.jobs.resources import Resources
from tally.queue.base import TallyCelery, attempt_of, max_attempts_of
from tally.queue.client import CeleryJobClient
from tally.queue.worker.signals import JOBS, job_log, queue_of
from tally.settings import Settings

log = logging.getLogger("tally.jobs")

# Failures retrying cannot fix: bad arguments, a timeout, an explicit JobFailed.
FINAL_FAILURES: tuple[type[BaseException], ...] = (
    JobFailed,
    ValidationFailed,
    SoftTimeLimitExceeded,
    TimeLimitExceeded,
)


def register_all(app: TallyCelery, settings: Settings) -> None:
    """Make every `@job` a Celery task on `app`."""
    for spec in REGISTRY.values():
        register(app, spec, settings)


def register(app: TallyCelery, spec: TaskSpec, settings: Settings) -> None:
    """One Celery task for `spec`, with its limits and retry policy."""
    soft, hard, tries = limits(spec, settings.jobs)

    def run(self: Task[Any, Any], *args: Any, **kwargs: Any) -> Any:
        return execute(app, spec, self, list(args), kwargs, soft)

    run.__name__ = spec.fn.__name__
    run.__doc__ = spec.fn.__doc__
    app.task(
        name=spec.name,
        bind=True,
        queue=spec.queue,
        max_retries=tries - 1,
        soft_time_limit=soft,
        time_limit=hard,
        autoretry_for=spec.retry_for,
        # A Reject (re-queued at shutdown) goes back to the broker as it is: not a retry.
        dont_autoretry_for=(*FINAL_FAILURES, Reject),
        retry_backoff=spec.backoff_s or settings.jobs.retry_backoff_s,
        retry_backoff_max=spec.backoff_max_s or settings.jobs.retry_backoff_max_s,
        # Full jitter: the delay is uniform in [0, backoff * 2**retries], capped.
        retry_jitter=True,
        # The job index holds results (with a TTL); the result backend stays unwritten.
        ignore_result=True,
        typing=False,
        # Registered on this app only: a shared task would be added to every app created
        # later in the process, bound to this one's index.
        shared=False,
    )(run)


def execute(
    app: TallyCelery,
    spec: TaskSpec,
    task: Task[Any, Any],
    args: list[Any],
    kwargs: dict[str, Any],
    timeout_s: int,
) -> Any:
    """The body of every Tally task."""
    request = task.request
    if getattr(request, "tally_skip", None):
        # Aborted while queued, or finished before this re-delivery: never run it again.
        raise Ignore()
    job_id = str(request.id)
    try:
        model = spec.schema.validate(args, kwargs)
    except ValidationFailed as exc:
        raise JobFailed(f"bad arguments: {exc}") from None
    call_kwargs = spec.schema.call_kwargs(model)
    ctx = JobContext(
        job_id=job_id,
        task=spec.name,
        queue=spec.queue,
        attempt=attempt_of(request),
        max_attempts=max_attempts_of(task),
        index=app.index,
        resources=app.resources or Resources(),
        enqueue=CeleryJobClient(app).send,
        breakers=app.breakers,
    )
    if spec.schema.context_param:
        call_kwargs[spec.schema.context_param] = ctx
    watchdog = app.watchdog()
    token = CURRENT.set(ctx)
    try:
        try:
            # All declared breakers are checked before any is entered: a refusal from the
            # second must not reach the first's guard, where it would count as a success.
            for name in spec.breakers:
                app.breakers.check(name)
            watchdog.register(job_id, timeout_s)
            try:
                with contextlib.ExitStack() as guards:
                    for name in spec.breakers:
                        guards.enter_context(app.breakers.guard(name))
                    result = spec.fn(**call_kwargs)
            finally:
                watchdog.unregister(job_id)
        except BreakerOpen as exc:
            if spec.when_open is WhenOpen.SKIP:
                # Not deferred: something else sends it again anyway (a schedule, a trigger),
                # and deferred copies would pile up for as long as the breaker stays open.
                log.warning("%s skipped: %s", spec.name, exc.message)
                JOBS.labels(spec.name, queue_of(app, task), "skipped").inc()
                return {"status": f"skipped: {exc.message}",
                        "retry_after_s": round(exc.retry_after_s)}  # fmt: skip
            _defer(app, task, args, kwargs, exc)
            JOBS.labels(spec.name, queue_of(app, task), "deferred").inc()
            raise Ignore() from None
        except JobAborted:
            app.index.transition(job_id, Status.ABORTED, finished_at=time.time())
            queue = queue_of(app, task)
            JOBS.labels(spec.name, queue, "aborted").inc()
            job_log(logging.INFO, "aborted", job_id=job_id, task=spec.name, queue=queue)
            raise Ignore() from None
        except JobRequeued:
            # Back to the head of its queue with the same try count: the shutdown is not the
            # job's fault. Another worker (or this one, restarted) runs it from the start.
            app.index.transition(job_id, Status.QUEUED, error="re-queued: its worker shut down")
            queue = queue_of(app, task)
            JOBS.labels(spec.name, queue, "requeued").inc()
            job_log(
                logging.WARNING, "requeued", job_id=job_id, task=spec.name, queue=queue,
                reason="worker shutting down",
            )  # fmt: skip
            raise Reject("worker shutting down", requeue=True) from None
        except (JobTimedOut, SoftTimeLimitExceeded):
            raise JobFailed(
                f"timed out after {timeout_s} s (the task's timeout_s or TALLY_JOB_TIMEOUT)"
            ) from None
    finally:
        CURRENT.reset(token)
    return to_jsonable_python(result, fallback=str)


def _defer(
    app: TallyCelery,
    task: Task[Any, Any],
    args: list[Any],
    kwargs: dict[str, Any],
    exc: BreakerOpen,
) -> None:
    """Send the job again for when the breaker lets a trial through, with the same try count."""
    request = task.request
    delay_s = max(1.0, exc.retry_after_s)
    app.index.transition(str(request.id), Status.RETRYING, error=f"deferred: {exc.message}")
    again = task.signature_from_request(
        request, tuple(args), kwargs, countdown=delay_s, retries=request.retries
    )
    again.apply_async(tally_deferred=True)
    job_log(
        logging.INFO, "deferred", job_id=request.id, task=task.name, breaker=exc.breaker,
        delay_s=round(delay_s, 1), attempt=attempt_of(request),
    )  # fmt: skip
