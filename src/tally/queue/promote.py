"""Send held jobs (countdown, eta, delayed retries) to the broker when they fall due."""

from __future__ import annotations

import logging
import threading
import time

from kombu.exceptions import OperationalError

from tally.errors import UnavailableError
from tally.queue.base import TallyCelery

log = logging.getLogger("tally.promoter")

# A claimed job not sent within this time is claimed again by another promoter.
LEASE_S = 30.0


def promote_due(app: TallyCelery, queues: list[str], now: float | None = None) -> int:
    """Send every held job of `queues` whose time has come; return how many were sent."""
    sent = 0
    for queue in queues:
        for job_id, dispatch in app.index.claim_due(queue, now or time.time(), LEASE_S):
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
        self._app = app
        self._queues = queues
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tally-promoter", daemon=True)

    def start(self) -> None:
        """Begin promoting."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current pass."""
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                promote_due(self._app, self._queues)
            except (UnavailableError, OperationalError) as exc:
                log.warning("held jobs not promoted now: %s", exc)
            except Exception:
                log.exception("promoter pass failed")
