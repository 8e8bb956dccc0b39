"""Health checks: each part of Tally says how it is; `runtime.health` adds them up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tally.errors import TallyError, UnavailableError


@dataclass(frozen=True, slots=True)
class Checked:
    """One check's answer: what to show, and the problems that make health degraded."""

    detail: Any
    problems: tuple[str, ...] = ()

    @classmethod
    def unavailable(cls, exc: UnavailableError) -> Checked:
        """A reporting check whose service cannot say now (not itself a problem)."""
        return cls({"status": "unavailable", "error": exc.message})


class HealthCheck(Protocol):
    """A named check; `check` never raises for its service being down (it says so)."""

    @property
    def name(self) -> str: ...

    def check(self) -> Checked: ...


@dataclass(frozen=True, slots=True)
class FunctionCheck:
    """A check from a function; a Tally error it raises becomes `unavailable`, not a problem.

    For reporting-only checks (the buffer): their service being down is already a problem
    of the Redis check.
    """

    name: str
    fn: Callable[[], Checked]

    def check(self) -> Checked:
        try:
            return self.fn()
        except TallyError as exc:
            return Checked({"status": "unavailable", "error": str(exc)})
