"""When tasks run by themselves: declared beside each task, collected by the registry.

Celery-free: `queue.beat` turns these into Celery's schedule. A schedule that depends on
settings is a function of one settings section, annotated with its type; the registry
hands it that section alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from tally.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Every:
    """Every `seconds`; `expires_s`: a run not started within it is dropped (superseded)."""

    seconds: float
    expires_s: float | None = None

    def describe(self) -> str:
        return f"every {self.seconds:g} s"


@dataclass(frozen=True, slots=True)
class Cron:
    """A five-field cron expression (minute hour day-of-month month day-of-week), UTC."""

    expression: str
    setting: str = ""  # the environment name it came from, for error messages

    def __post_init__(self) -> None:
        if len(self.expression.split()) != 5:
            where = self.setting or "cron"
            raise ConfigError(f"{where}: expected 5 cron fields, got {self.expression!r}")

    def describe(self) -> str:
        return f"{self.expression} (cron, UTC)"


When = Every | Cron


def optional_cron(expression: str | None, setting: str) -> Cron | None:
    """The cron a setting gives, or None when the setting leaves the task unscheduled."""
    return None if expression is None else Cron(expression, setting)


@dataclass(frozen=True, slots=True)
class Entry:
    """One scheduled run of a task."""

    name: str
    task: str
    when: When
    kwargs: dict[str, Any] = field(default_factory=dict)


# A schedule as declared: fixed, or a function of one settings section (None: disabled).
Declared = When | Callable[[Any], When | None]
# Whether a worker consuming the task's queue enqueues it once when workers start.
Startup = bool | Callable[[Any], bool]


def section_of(fn: Callable[[Any], Any]) -> type:
    """The settings section a declaration reads: its one parameter's annotated type."""
    params = list(inspect.signature(fn).parameters)
    hints = get_type_hints(fn)
    if len(params) != 1 or params[0] not in hints:
        raise ConfigError(f"{fn.__qualname__}: takes one parameter, annotated with its section")
    kind = hints[params[0]]
    if not isinstance(kind, type):
        raise ConfigError(f"{fn.__qualname__}: its parameter's annotation is not a class")
    return kind


def resolve(declared: Any, sections: Callable[[type], Any]) -> Any:
    """A declaration's value: itself when fixed, else called with its section."""
    if callable(declared) and not isinstance(declared, Every | Cron):
        return declared(sections(section_of(declared)))
    return declared
