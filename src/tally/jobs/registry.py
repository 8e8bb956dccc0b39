"""`@job`: a plain function becomes a Tally task; its signature is its input schema."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from tally import keys
from tally.errors import ConfigError, TaskUnknown
from tally.jobs.context import JobContext
from tally.jobs.schedule import Declared, Entry, Startup, resolve
from tally.jobs.schema import InputSchema
from tally.settings import JobsSettings, Settings

F = TypeVar("F", bound=Callable[..., Any])


class WhenOpen(StrEnum):
    """What a job does when a breaker it declares is open."""

    DEFER = "defer"  # sent again for when the breaker lets a trial through; no try used
    SKIP = "skip"  # succeeds at once as skipped: something else will send it again anyway


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A registered task: its function, where it runs, its limits and when it runs by itself."""

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
    when_open: WhenOpen = WhenOpen.DEFER
    schedule: Declared | None = None
    schedule_name: str | None = None
    at_startup: Startup = False

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


def limits(task: TaskSpec, settings: JobsSettings) -> tuple[int, int, int]:
    """Soft time limit, hard time limit and max tries of a task."""
    soft = task.timeout_s or settings.timeout_s
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
    when_open: WhenOpen = WhenOpen.DEFER,
    schedule: Declared | None = None,
    schedule_name: str | None = None,
    at_startup: Startup = False,
) -> Callable[[F], F]:
    """Register the decorated function as a task.

    `name` defaults to `module.function`. `timeout_s`, `max_tries`, `backoff_s` and
    `backoff_max_s` default to TALLY_JOB_TIMEOUT, TALLY_MAX_TRIES, TALLY_RETRY_BACKOFF_S and
    TALLY_RETRY_BACKOFF_MAX_S. A parameter annotated `JobContext` receives the running
    job's context (progress, abort check, the process's services) and is not part of the
    input schema.
    `breakers` names circuit breakers (SPEC §6) the whole job goes through: while one is
    open the job is deferred without using a try (`when_open=WhenOpen.SKIP`: it succeeds as
    skipped), and its failures count against them.
    `schedule` (an `Every`, a `Cron`, or a function of one settings section returning one or
    None) makes beat run it; `at_startup` (or a function of a section) runs it once when
    workers consuming its queue start.
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
            when_open=when_open,
            schedule=schedule,
            schedule_name=schedule_name,
            at_startup=at_startup,
        )
        return fn

    return register


def spec(name: str) -> TaskSpec:
    """The registered task `name`; TaskUnknown (404) otherwise."""
    found = REGISTRY.get(name)
    if found is None:
        raise TaskUnknown(f"unknown task {name!r}; see GET /api/v1/tasks for the known ones")
    return found


def schedules(settings: Settings) -> list[Entry]:
    """Every scheduled run the registered tasks declare, with the settings in force."""
    out = []
    for task in sorted(REGISTRY.values(), key=lambda t: t.name):
        if task.schedule is None:
            continue
        when = resolve(task.schedule, settings.section)
        if when is not None:
            out.append(Entry(task.schedule_name or task.name, task.name, when))
    return out


def startup_tasks(settings: Settings, queues: list[str]) -> list[str]:
    """Tasks to run once when workers consuming `queues` start."""
    return [
        t.name
        for t in sorted(REGISTRY.values(), key=lambda t: t.name)
        if t.queue in queues and resolve(t.at_startup, settings.section)
    ]


def import_task_modules(modules: list[str]) -> None:
    """Import task modules (built-in, and TALLY_TASK_MODULES) so their `@job`s register."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"TALLY_TASK_MODULES: cannot import {module!r}: {exc}") from None
