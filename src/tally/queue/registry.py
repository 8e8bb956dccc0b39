"""`@job`: a plain function becomes a Tally task; its signature is its input schema."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tally import keys
from tally.errors import ConfigError, TaskUnknown
from tally.jobs.schema import InputSchema
from tally.queue.progress import JobContext
from tally.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A registered task: its function, where it runs, and its limits."""

    name: str
    fn: Callable[..., Any]
    queue: str
    schema: InputSchema
    timeout_s: int | None
    max_tries: int | None
    retry_for: tuple[type[BaseException], ...]
    backoff_s: int | None
    backoff_max_s: int | None
    description: str
    breakers: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        """Name, queue, limits and the JSON schema of its arguments."""
        return {
            "name": self.name,
            "queue": self.queue,
            "description": self.description,
            "timeout_s": self.timeout_s,
            "max_tries": self.max_tries,
            "breakers": list(self.breakers),
            "arguments": self.schema.model.model_json_schema(),
        }


REGISTRY: dict[str, TaskSpec] = {}

# A hard time limit leaves a task this long after its soft limit to clean up.
HARD_LIMIT_GRACE_S = 30


def limits(task: TaskSpec, settings: Settings) -> tuple[int, int, int]:
    """Soft time limit, hard time limit and max tries of a task."""
    soft = task.timeout_s or settings.job_timeout_s
    return soft, soft + HARD_LIMIT_GRACE_S, task.max_tries or settings.max_tries


def job(
    name: str | None = None,
    *,
    queue: str = keys.DEFAULT_QUEUE,
    timeout_s: int | None = None,
    max_tries: int | None = None,
    retry_for: tuple[type[BaseException], ...] = (Exception,),
    backoff_s: int | None = None,
    backoff_max_s: int | None = None,
    breakers: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Register the decorated function as a task.

    `name` defaults to `module.function`. `timeout_s`, `max_tries`, `backoff_s` and
    `backoff_max_s` default to TALLY_JOB_TIMEOUT, TALLY_MAX_TRIES, TALLY_RETRY_BACKOFF_S and
    TALLY_RETRY_BACKOFF_MAX_S. A parameter annotated `JobContext` receives the running
    job's context (progress, abort check) and is not part of the input schema.
    `breakers` names circuit breakers (SPEC §6) the whole job goes through: while one is
    open the job is deferred without using a try, and its failures count against them.
    """
    if queue not in keys.QUEUES:
        raise ConfigError(f"@job queue={queue!r}: unknown queue; known: {', '.join(keys.QUEUES)}")
    if timeout_s is not None and timeout_s < 1:
        raise ConfigError(f"@job timeout_s={timeout_s}: must be at least 1 s")
    if max_tries is not None and max_tries < 1:
        raise ConfigError(f"@job max_tries={max_tries}: must be at least 1")

    def register(fn: F) -> F:
        task_name = name or f"{fn.__module__}.{fn.__name__}"
        existing = REGISTRY.get(task_name)
        if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
            raise ConfigError(f"task {task_name!r} is registered twice")
        REGISTRY[task_name] = TaskSpec(
            name=task_name,
            fn=fn,
            queue=queue,
            schema=InputSchema(fn, skip=JobContext),
            timeout_s=timeout_s,
            max_tries=max_tries,
            retry_for=retry_for,
            backoff_s=backoff_s,
            backoff_max_s=backoff_max_s,
            description=(fn.__doc__ or "").strip().split("\n")[0],
            breakers=tuple(breakers),
        )
        return fn

    return register


def spec(name: str) -> TaskSpec:
    """The registered task `name`; TaskUnknown (404) otherwise."""
    found = REGISTRY.get(name)
    if found is None:
        raise TaskUnknown(f"unknown task {name!r}; see GET /api/v1/tasks for the known ones")
    return found


def import_task_modules(modules: list[str]) -> None:
    """Import the user modules named in TALLY_TASK_MODULES so their `@job`s register."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"TALLY_TASK_MODULES: cannot import {module!r}: {exc}") from None
