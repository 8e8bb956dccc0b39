"""The result-cache port: publish several keys at once, read one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping


class ResultCache(ABC):
    """A key-value cache for published results; every key expires."""

    kind: str = "cache"

    @abstractmethod
    def publish(self, values: Mapping[str, str], ttl_s: int) -> None:
        """Set all `values` with a TTL in one atomic step: readers see all or none."""

    @abstractmethod
    def get(self, key: str) -> str | None:
        """The value of `key`, or None when absent or expired."""

    @abstractmethod
    def ttl_s(self, key: str) -> float | None:
        """Seconds before `key` expires, or None when absent."""
