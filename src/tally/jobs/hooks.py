"""What happens when a job ends: capabilities listen (alerts' `job` rules), the engine tells.

The engine calls `finished` once per job that ends for good (succeeded, or failed on its
last try); a listener gets the outcome and a way to send a follow-up job. Listeners must
be quick: they run in the worker, right after the job, and may read the process's services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tally.errors import TallyError
from tally.jobs.resources import Resources

log = logging.getLogger("tally.jobs")


@dataclass(frozen=True, slots=True)
class Ended:
    """A job that ended for good."""

    job_id: str
    task: str
    queue: str
    failed: bool
    error: str | None = None
    result: Any = None


Send = Callable[[str, dict[str, Any]], str]  # send(task name, its kwargs) -> job id
Listener = Callable[[Ended, Send, Resources], None]
LISTENERS: list[Listener] = []


def on_finished(listener: Listener) -> Listener:
    """Register a listener for jobs that end for good (usable as a decorator)."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)
    return listener


def finished(ended: Ended, send: Send, resources: Resources | None) -> None:
    """Tell every listener; a listener's error is logged, never the job's."""
    for listener in list(LISTENERS):
        try:
            listener(ended, send, resources or Resources())
        except TallyError as exc:  # already one clear line (a table missing, Redis down)
            log.warning("job end listener %s skipped for %s: %s", listener.__name__,
                        ended.job_id, exc)  # fmt: skip
        except Exception:  # a listener must not fail the job that ended
            log.exception("job end listener %s failed for %s", listener.__name__, ended.job_id)
