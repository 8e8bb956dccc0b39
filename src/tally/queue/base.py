"""The Celery app class Tally uses."""

from __future__ import annotations

from celery import Celery

from tally.queue.context import TaskContext


class TallyCelery(Celery):
    """A Celery app that carries the process's task context."""

    tally: TaskContext | None = None

    def context(self) -> TaskContext:
        """The task context of this process; set by the entry point that runs tasks."""
        if self.tally is None:
            raise RuntimeError("no task context: this process does not run tasks")
        return self.tally
