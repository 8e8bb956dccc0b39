"""What a process gives its jobs: one object per capability, looked up by type."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class Resources:
    """The services a worker process offers its tasks (the store's owner, the cache, …)."""

    def __init__(self, *services: object) -> None:
        self._services: dict[type, Any] = {type(s): s for s in services}

    def get(self, kind: type[T]) -> T:
        """The service of type `kind`; RuntimeError when this process offers none."""
        found = self._services.get(kind)
        if found is None:
            raise RuntimeError(f"this process offers its jobs no {kind.__name__}")
        result: T = found
        return result
