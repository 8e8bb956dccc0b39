"""The last hour of the overview's figures, sampled in the serving process every 15 s."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tally.errors import TallyError
from tally.infra.periodic import Periodic

log = logging.getLogger("tally.dashboard")

KEEP_S = 3600.0


@dataclass(frozen=True, slots=True)
class Sample:
    """Figures at one moment: totals since start, and levels."""

    at: float
    waiting_jobs: int
    running_jobs: int
    buffered_events: int
    accepted_events: float  # counter: differences give the rate
    finished_jobs: int  # in the last 24 h: differences give the rate


class History:
    """A ring of samples (one process's view; each API process keeps its own).

    Sampling is also how an API process notices Redis going away and coming back: its loop
    says each once (infra.periodic).
    """

    def __init__(self, read: Callable[[], Sample], every_s: float) -> None:
        self._read = read
        self._samples: deque[Sample] = deque(maxlen=int(KEEP_S / every_s) + 1)
        self._lock = threading.Lock()
        self._loop = Periodic("tally-api", self._tick, every_s, log=log, first_wait=False)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def sample(self) -> None:
        """Take one sample now (Redis down: skipped)."""
        try:
            self._tick()
        except TallyError as exc:
            log.debug("history sample skipped: %s", exc)

    def _tick(self) -> None:
        s = self._read()
        with self._lock:
            self._samples.append(s)

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)


def per_minute(
    samples: list[Sample], value: Callable[[Sample], float]
) -> list[tuple[float, float]]:
    """Rate per minute between consecutive samples (a counter reset counts as 0)."""
    out = []
    for a, b in itertools.pairwise(samples):
        dt = b.at - a.at
        if dt > 0:
            out.append((b.at, max(0.0, value(b) - value(a)) * 60 / dt))
    return out
