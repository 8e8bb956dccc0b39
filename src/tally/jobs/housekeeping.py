"""Retention, capability by capability: each registers what it removes, cleanup calls all.

`maintenance.cleanup` runs every registered purge: the capabilities stay independent (none
imports another), and each keeps its own retention setting beside its own tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tally.jobs.resources import Resources

log = logging.getLogger("tally.jobs")

# purge(resources, now) -> {what: how many removed}
Purge = Callable[[Resources, float], dict[str, int]]
PURGES: dict[str, Purge] = {}


def purge(name: str) -> Callable[[Purge], Purge]:
    """Register a capability's purge under `name` (a decorator)."""

    def register(fn: Purge) -> Purge:
        PURGES[name] = fn
        return fn

    return register


def run_all(resources: Resources, now: float) -> tuple[dict[str, int], dict[str, str]]:
    """Every purge this process offers: counts removed, and the errors of those that failed."""
    removed: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, fn in sorted(PURGES.items()):
        try:
            for what, n in fn(resources, now).items():
                removed[f"{name}.{what}"] = n
        except RuntimeError as exc:  # this process offers no such service: not ours to purge
            errors[name] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one purge failing leaves the others to run
            log.warning("purge %s failed: %s", name, exc)
            errors[name] = f"{type(exc).__name__}: {exc}"[:300]
    return removed, errors
