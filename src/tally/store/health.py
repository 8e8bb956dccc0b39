"""Health of the store: open in this process (embedded), or by a worker (Redis mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tally.errors import UnavailableError
from tally.infra.health import Checked
from tally.store.owner import StoreOwner


class StoreCheck:
    """The store is opened by its owner only, so health reads what the owner says."""

    name = "store"

    def __init__(
        self, owner: StoreOwner, backend: str, workers: Callable[[], list[dict[str, Any]]] | None
    ) -> None:
        self._owner = owner
        self._backend = backend
        self._workers = workers  # None: this process is the owner (embedded)

    def check(self) -> Checked:
        if self._workers is None:
            return Checked({"status": "ok" if self._owner.is_open else "closed"})
        try:
            owners = [w for w in self._workers() if w.get("store_open")]
        except UnavailableError as exc:
            return Checked.unavailable(exc)
        status = "ok" if owners else "no worker has opened it yet"
        return Checked({"status": status, "backend": self._backend})
