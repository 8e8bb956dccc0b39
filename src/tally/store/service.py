"""The store as the API, CLI and SDK see it: everything goes through its owner, as jobs."""

from __future__ import annotations

from typing import Any

from tally import keys
from tally.jobs.client import JobClient


class StoreService:
    """Flush, stats and schema upgrade, run by the process that owns the store (SPEC §2, §3)."""

    def __init__(self, jobs: JobClient) -> None:
        self._jobs = jobs

    def flush(self, *, wait: bool, timeout_s: float) -> dict[str, Any]:
        """Enqueue a flush; with `wait`, return its report."""
        if not wait:
            job_id = self._jobs.send(keys.TASK_FLUSH)
            return {"job_id": job_id, "status": "queued"}
        report: dict[str, Any] = self._jobs.call(keys.TASK_FLUSH, timeout_s)
        return report

    def stats(self, timeout_s: float) -> dict[str, Any]:
        """Events stored, time range and bytes on disk, computed by the owner."""
        stats: dict[str, Any] = self._jobs.call(keys.TASK_STORE_STATS, timeout_s)
        return stats

    def upgrade(self, timeout_s: float) -> list[str]:
        """Migrate the store's schema through its owner."""
        applied: list[str] = self._jobs.call(keys.TASK_DB_UPGRADE, timeout_s)
        return applied
