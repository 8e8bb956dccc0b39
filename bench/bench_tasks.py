"""The benchmark's no-op job, for Tally (`@job`) and for raw Celery (a plain Celery app).

Both return the time their body started, so enqueue-to-start latency is measured the same
way on both sides.
"""

from __future__ import annotations

import time

from celery import Celery

from tally.jobs import job
from tally.queue.app import celery_config
from tally.settings import Settings


@job("bench.stamp")
def stamp() -> float:
    """Return when the job started."""
    return time.time()


def raw_app() -> Celery:
    """Raw Celery with Tally's broker and worker configuration, results in the backend."""
    app = Celery("raw", set_as_current=False)
    conf = celery_config(Settings())
    # A raw Celery user reads status and results from the result backend.
    conf.update(task_ignore_result=False, task_track_started=True, beat_schedule={})
    app.config_from_object(conf)

    @app.task(name="raw.stamp")
    def raw_stamp() -> float:
        return time.time()

    return app


app = raw_app()
