"""What tasks need from their process: settings, buffer, result cache, store (opened lazily)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tally.analytics.params import AnalyticsParams
from tally.buffer.base import EventBuffer
from tally.cache.results import Publication
from tally.settings import Settings
from tally.store.base import Store


@dataclass
class TaskContext:
    """Shared by the tasks of one process; the store opens on first use, in its owner only."""

    settings: Settings
    buffer: EventBuffer
    store_factory: Callable[[], Store]
    results: Publication
    analytics: AnalyticsParams
    _store: Store | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def store(self) -> Store:
        """The store, opened (and its schema upgraded) the first time a task needs it."""
        with self._lock:
            if self._store is None:
                store = self.store_factory()
                store.upgrade()
                self._store = store
            return self._store

    @property
    def store_open(self) -> bool:
        """True once this process opened the store."""
        return self._store is not None

    def close(self) -> None:
        """Close the store and the buffer."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
        self.buffer.close()
