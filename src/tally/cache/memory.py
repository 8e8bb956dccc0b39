"""The in-process result cache of embedded mode."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from tally.cache.base import ResultCache


class MemoryCache(ResultCache):
    """A dict with expiry times, guarded by one lock (API and worker threads share it)."""

    kind = "memory"

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def publish(self, values: Mapping[str, str], ttl_s: int) -> None:
        expires = time.monotonic() + ttl_s
        with self._lock:
            self._values.update({k: (v, expires) for k, v in values.items()})

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._values.get(key)
            if item is None:
                return None
            if item[1] <= time.monotonic():
                del self._values[key]
                return None
            return item[0]

    def ttl_s(self, key: str) -> float | None:
        with self._lock:
            item = self._values.get(key)
        if item is None:
            return None
        left = item[1] - time.monotonic()
        return left if left > 0 else None
