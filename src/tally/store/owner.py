"""The process that owns the store: it opens it (upgraded) on first use and flushes into it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tally.buffer.base import EventBuffer
from tally.settings import FlushSettings
from tally.store.base import Store
from tally.store.flush import FlushReport, flush


class StoreOwner:
    """Shared by the jobs of one process; the store opens on first use, in its owner only."""

    def __init__(
        self, factory: Callable[[], Store], buffer: EventBuffer, settings: FlushSettings
    ) -> None:
        self._factory = factory
        self.buffer = buffer
        self.settings = settings
        self._store: Store | None = None
        self._lock = threading.Lock()

    def store(self) -> Store:
        """The store, opened (and its schema upgraded) the first time a job needs it."""
        with self._lock:
            if self._store is None:
                store = self._factory()
                store.upgrade()
                self._store = store
            return self._store

    @property
    def is_open(self) -> bool:
        """True once this process opened the store."""
        return self._store is not None

    def flush(self, progress: Callable[[int, str], None] | None = None) -> FlushReport:
        """Store what waits in the buffer (idempotent: safe to run again)."""
        s = self.settings
        return flush(
            self.buffer,
            self.store(),
            batch_size=s.insert_events,
            dedup_window_s=s.dedup_window_s,
            lock_ttl_s=s.lock_ttl_s,
            max_duration_s=s.max_duration_s,
            progress=progress,
        )

    def close(self) -> None:
        """Close the store."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
