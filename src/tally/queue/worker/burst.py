"""`tally worker --burst`: stop once the worker's queues are empty and its jobs are done."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from tally.errors import TallyError

log = logging.getLogger("tally.burst")


class BurstMonitor:
    """Sends this process SIGTERM (Celery's warm shutdown) once there is nothing left to do.

    `idle` says whether the queues hold nothing ready and no job runs or is reserved; the
    worker stops after it held for `settle_s`, so a job published meanwhile is not missed.
    """

    def __init__(self, idle: Callable[[], bool], interval_s: float, settle_s: float) -> None:
        self._idle = idle
        self._interval_s = interval_s
        self._settle_s = settle_s
        self._thread = threading.Thread(target=self._run, name="tally-burst", daemon=True)

    def start(self) -> None:
        """Begin watching."""
        self._thread.start()

    def _run(self) -> None:
        idle_since: float | None = None
        while True:
            time.sleep(self._interval_s)
            try:
                idle = self._idle()
            except TallyError as exc:  # Redis down: not idle, keep waiting
                log.debug("burst check failed: %s", exc)
                idle = False
            if not idle:
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= self._settle_s:
                log.info("burst: queues empty and no job running; stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                return
