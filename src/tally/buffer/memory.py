"""In-process buffer for embedded mode: same semantics as the stream, lost on restart."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from tally.buffer.base import Batch, EventBuffer, FlushLock, chunked


@dataclass(slots=True)
class _Entry:
    events: int
    payload: bytes
    added_at: float
    consumer: str | None = None


class _MemoryLock(FlushLock):
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def refresh(self) -> bool:
        return self._lock.locked()

    def release(self) -> None:
        if self._lock.locked():
            self._lock.release()


class MemoryBuffer(EventBuffer):
    """Entries in an ordered dict; handed-out entries stay until acknowledged."""

    kind = "memory"

    def __init__(self) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._guard = threading.Lock()
        self._flush_lock = threading.Lock()
        self._seq = itertools.count(1)
        self._events = 0
        self._flush_requested_until = 0.0

    def append(self, lines: list[bytes]) -> None:
        now = time.time()
        with self._guard:
            for count, payload in chunked(lines):
                self._entries[f"{int(now * 1000)}-{next(self._seq)}"] = _Entry(count, payload, now)
                self._events += count

    def size(self) -> int:
        with self._guard:
            return self._events

    def oldest_age_s(self) -> float | None:
        with self._guard:
            first = next(iter(self._entries.values()), None)
            return None if first is None else max(0.0, time.time() - first.added_at)

    def reclaim(self, consumer: str, max_events: int) -> Batch:
        return self._take(consumer, max_events, pending=True)

    def read(self, consumer: str, max_events: int) -> Batch:
        return self._take(consumer, max_events, pending=False)

    def _take(self, consumer: str, max_events: int, *, pending: bool) -> Batch:
        batch = Batch(reclaimed=pending)
        with self._guard:
            for entry_id, entry in self._entries.items():
                if batch.events >= max_events:
                    break
                if (entry.consumer is not None) != pending:
                    continue
                entry.consumer = consumer
                batch.add(entry_id, entry.events, entry.payload)
        return batch

    def ack(self, batch: Batch) -> None:
        with self._guard:
            for entry_id in batch.entry_ids:
                entry = self._entries.pop(entry_id, None)
                if entry is not None:
                    self._events -= entry.events

    def acquire_flush_lock(self, ttl_s: float) -> FlushLock | None:
        # Inside one process a dead flusher takes the process with it: no expiry needed.
        if not self._flush_lock.acquire(blocking=False):
            return None
        return _MemoryLock(self._flush_lock)

    def request_flush(self, debounce_s: float) -> bool:
        now = time.monotonic()
        with self._guard:
            if now < self._flush_requested_until:
                return False
            self._flush_requested_until = now + debounce_s
            return True

    def clear_flush_request(self) -> None:
        with self._guard:
            self._flush_requested_until = 0.0

    def ping(self) -> bool:
        return True
