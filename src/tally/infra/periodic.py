"""A background loop: call a function every N seconds on a daemon thread until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tally.errors import TallyError, UnavailableError

# Services a loop of this process has said are down: the other loops stay quiet about them,
# so an outage is one warning and one "back", not one per loop (heartbeat, promoter, ...).
_down: dict[str, str] = {}
_down_lock = threading.Lock()


def _first_to_say(exc: TallyError, *, down: bool) -> bool:
    """True for the first loop to see this service go down (or come back)."""
    service = exc.service if isinstance(exc, UnavailableError) else str(exc)
    with _down_lock:
        if down:
            if service in _down:
                return False
            _down[service] = str(exc)
            return True
        return _down.pop(service, None) is not None


class Periodic:
    """Runs `tick` every `interval_s`; a failing tick is logged (once per kind) and retried."""

    def __init__(
        self,
        name: str,
        tick: Callable[[], None],
        interval_s: float,
        *,
        log: logging.Logger,
        first_wait: bool = True,
    ) -> None:
        self._tick = tick
        self._interval_s = interval_s
        self._log = log
        self._first_wait = first_wait
        self._stop = threading.Event()
        self._failing: TallyError | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Begin the loop."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the current tick."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        if self._first_wait and self._stop.wait(self._interval_s):
            return
        while not self._stop.is_set():
            self._once()
            if self._stop.wait(self._interval_s):
                return

    def _once(self) -> None:
        try:
            self._tick()
        except TallyError as exc:
            # One line when a dependency goes away and one when it is back, not one per tick.
            if self._failing is None and _first_to_say(exc, down=True):
                self._log.warning("%s: %s", self._thread.name, exc)
            self._failing = exc
            return
        except Exception:  # noqa: BLE001 - a bug in a tick must not kill the loop
            self._log.exception("%s failed", self._thread.name)
            return
        if self._failing is not None:
            if _first_to_say(self._failing, down=False):
                self._log.info("%s: working again", self._thread.name)
            self._failing = None
