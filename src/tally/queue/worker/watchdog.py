"""Stop running jobs that were aborted or passed their time limit, in any pool.

Celery's own limits and `revoke(terminate=True)` need the prefork pool; Tally's workers
default to threads (the embedded store is single-process). So each process that runs jobs
keeps one watchdog thread: it raises JobAborted or JobTimedOut inside the job's thread
(`PyThreadState_SetAsyncExc`). The exception lands at the job's next Python instruction,
so a job blocked inside one C call stops when that call returns.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from dataclasses import dataclass

from tally.errors import JobAborted, JobInterrupted, JobTimedOut, TallyError
from tally.jobs.base import JobIndex

log = logging.getLogger("tally.watchdog")


@dataclass
class _Running:
    thread_id: int
    deadline: float
    signalled: bool = False


def interrupt(thread_id: int, exc: type[JobInterrupted] | None) -> None:
    """Raise `exc` in thread `thread_id` at its next instruction (None: cancel it)."""
    target = ctypes.py_object(exc) if exc is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


class Watchdog:
    """Watches this process's running jobs for abort requests and deadlines."""

    def __init__(self, index: JobIndex, interval_s: float) -> None:
        self._index = index
        self._interval_s = interval_s
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="tally-watchdog", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int:
        """The process this watchdog belongs to (a forked child needs its own)."""
        return self._pid

    def register(self, job_id: str, timeout_s: float) -> None:
        """Watch the calling thread's job until `unregister`."""
        with self._lock:
            self._running[job_id] = _Running(threading.get_ident(), time.monotonic() + timeout_s)

    def unregister(self, job_id: str) -> None:
        """Stop watching; cancel an interruption that was raised but not yet delivered."""
        with self._lock:
            entry = self._running.pop(job_id, None)
            if entry is not None and entry.signalled:
                interrupt(entry.thread_id, None)

    def running(self) -> list[str]:
        """Ids of the jobs running in this process."""
        with self._lock:
            return list(self._running)

    def interrupt_all(self, exc: type[JobInterrupted]) -> list[str]:
        """Raise `exc` in every running job's thread now; return their ids."""
        with self._lock:
            hit = [(j, e) for j, e in self._running.items() if not e.signalled]
            for _, entry in hit:
                entry.signalled = True
                interrupt(entry.thread_id, exc)
        return [job_id for job_id, _ in hit]

    def _run(self) -> None:
        failing = False
        while True:
            time.sleep(self._interval_s)
            try:
                self._check()
            except TallyError as exc:  # the watchdog must outlive a Redis blip
                if not failing:  # once per outage, not twice a second
                    log.warning("watchdog check failed: %s", exc)
                failing = True
                continue
            if failing:
                log.info("watchdog checks work again")
            failing = False

    def _check(self) -> None:
        with self._lock:
            ids = [j for j, e in self._running.items() if not e.signalled]
        if not ids:
            return
        aborted = self._index.aborts_requested(ids)
        now = time.monotonic()
        with self._lock:
            for job_id in ids:
                entry = self._running.get(job_id)
                if entry is None or entry.signalled:
                    continue  # finished meanwhile
                if job_id in aborted:
                    exc: type[JobInterrupted] = JobAborted
                elif now >= entry.deadline:
                    exc = JobTimedOut
                else:
                    continue
                entry.signalled = True
                interrupt(entry.thread_id, exc)
                log.info("job %s: %s raised in its thread", job_id, exc.__name__)
