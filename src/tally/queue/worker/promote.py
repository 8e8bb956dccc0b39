"""Send held jobs (countdown, eta, delayed retries) to the broker when they fall due."""

from __future__ import annotations

import logging
import time

from tally.infra.periodic import Periodic
from tally.queue.base import TallyCelery
from tally.queue.errors import broker_errors

log = logging.getLogger("tally.promoter")

# A claimed job not sent within this time is claimed again by another promoter.
LEASE_S = 30.0


def promote_due(app: TallyCelery, queues: list[str], now: float | None = None) -> int:
    """Send every held job of `queues` whose time has come; return how many were sent."""
    sent = 0
    for queue in queues:
        for job_id, dispatch in app.index.claim_due(queue, now or time.time(), LEASE_S):
            with broker_errors("promoting held jobs"):
                app.send_task(
                    dispatch["task"],
                    args=dispatch.get("args") or [],
                    kwargs=dispatch.get("kwargs") or {},
                    task_id=job_id,
                    queue=dispatch.get("queue") or queue,
                    priority=dispatch.get("priority"),
                    retries=int(dispatch.get("retries") or 0),
                    tally_indexed=True,
                )
            app.index.release(queue, job_id)
            sent += 1
    return sent


class Promoter:
    """A thread of each worker: promotes due jobs every `interval_s`."""

    def __init__(self, app: TallyCelery, queues: list[str], interval_s: float) -> None:
        def tick() -> None:
            promote_due(app, queues)

        self._loop = Periodic("tally-promoter", tick, interval_s, log=log)

    def start(self) -> None:
        """Begin promoting."""
        self._loop.start()

    def stop(self) -> None:
        """Stop after the current pass."""
        self._loop.stop()
