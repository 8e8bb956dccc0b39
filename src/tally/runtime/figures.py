"""The deployment's figures for monitoring: live processes (heartbeats) and queue levels."""

from __future__ import annotations

from typing import Any

from tally.errors import TallyError
from tally.ingest.service import IngestService
from tally.maintenance.monitoring import process_metrics
from tally.queue.inspect import Inspector
from tally.store.owner import StoreOwner


class RuntimeFigures:
    """What `monitoring.collect` records (maintenance.monitoring.Figures)."""

    def __init__(self, inspector: Inspector, events: IngestService, owner: StoreOwner, *,
                 embedded: bool) -> None:  # fmt: skip
        self._inspector = inspector
        self._events = events
        self._owner = owner
        self._embedded = embedded

    def processes(self) -> list[dict[str, Any]]:
        """Each live worker's own figures (from its heartbeat); embedded: this process."""
        if self._embedded:
            return [{"name": "embedded", "role": "embedded", **process_metrics()}]
        return [{"name": w.get("name"), "role": "worker", **(w.get("process") or {})}
                for w in self._inspector.workers()]  # fmt: skip

    def deployment(self) -> dict[str, Any]:
        """Jobs waiting and running, finished in 24 h; events buffered and stored."""
        queues = self._inspector.queues()
        stored = None
        if self._owner.is_open:  # the store's owner counts; another worker does not open it
            try:
                store = self._owner.store()
                counted = "SELECT count() AS n FROM " + store.names.events  # noqa: S608 - a fixed name
                stored = int(store.query(counted)[0]["n"])
            except TallyError:
                stored = None
        return {
            "waiting_jobs": sum(q["pending"] + q["scheduled"] for q in queues),
            "running_jobs": sum(q["running"] for q in queues),
            "finished_jobs_24h": sum(q["succeeded_24h"] + q["failed_24h"] for q in queues),
            "buffered_events": int(self._events.buffer_info()["events"]),
            "stored_events": stored,
        }

    def busy(self) -> str | None:
        """Why a restore now would lose data (events waiting to be stored), or None."""
        waiting = int(self._events.buffer_info()["events"])
        return f"{waiting} events wait in the buffer" if waiting else None
