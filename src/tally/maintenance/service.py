"""Maintenance as routes, commands and pages use it: catalog, statistics, metrics, backups."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tally import keys
from tally.errors import NotFound, ValidationFailed
from tally.infra.metadb.db import MetadataDB
from tally.jobs.client import JobClient
from tally.maintenance import backup, catalog, monitoring, querystats
from tally.maintenance.places import LocalPlace, Place, S3Place
from tally.settings import MaintenanceSettings

HOUR_S = 3600.0


class MaintenanceService:
    """Reads of the maintenance tables; the work itself runs as jobs in the store's owner."""

    def __init__(self, db: MetadataDB, settings: MaintenanceSettings, jobs: JobClient,
                 backup_dir: Path, data_dir: Path) -> None:  # fmt: skip
        self.db = db
        self.settings = settings
        self.jobs = jobs
        self.backup_dir = backup_dir
        self.data_dir = data_dir

    def catalog(self) -> list[dict[str, Any]]:
        """The store's tables as the last refresh saw them."""
        with self.db.session() as session:
            return catalog.listing(session.connection())

    def query_stats(self, *, hours: float = 24, by: str = "slowest", limit: int = 20
                    ) -> list[dict[str, Any]]:  # fmt: skip
        """The slowest or most frequent normalised queries of the last `hours`."""
        if by not in ("slowest", "frequent"):
            raise ValidationFailed("by", "invalid_field", "slowest or frequent")
        since = time.time() - hours * HOUR_S
        with self.db.session() as session:
            return querystats.top(session.connection(), since=since, by=by, limit=limit)

    def task_stats(self, hours: float = 24) -> list[dict[str, Any]]:
        """Per task and hour: runs, failures, retries, p50/p95."""
        with self.db.session() as session:
            return monitoring.task_rows(session.connection(), time.time() - hours * HOUR_S)

    def processes(self) -> list[dict[str, Any]]:
        """Each process's latest figures (the last 10 minutes)."""
        with self.db.session() as session:
            return monitoring.latest_processes(session.connection(), time.time() - 600)

    def samples(self, since_s: float = HOUR_S) -> list[dict[str, Any]]:
        """The deployment's figures over the last `since_s` seconds, oldest first."""
        with self.db.session() as session:
            return monitoring.samples(session.connection(), time.time() - since_s)

    @property
    def place(self) -> Place:
        """Where backups go: TALLY_BACKUP_URL on S3, else TALLY_BACKUP_DIR."""
        s = self.settings
        if s.backup_url:
            return S3Place(s.backup_url, endpoint=s.backup_s3_endpoint, key=s.backup_s3_key,
                           secret=s.backup_s3_secret.get_secret_value())  # fmt: skip
        return LocalPlace(self.backup_dir)

    def record_self(self, name: str, role: str) -> None:
        """Write this process's own figures (an API process: it has no heartbeat)."""
        row = {"at": time.time(), "process": name, "role": role, **monitoring.process_metrics()}
        with self.db.session() as session:
            monitoring.record(session.connection(), row)

    def backups(self) -> list[dict[str, Any]]:
        """Complete backups, newest first."""
        return [b.public() for b in backup.listing(self.place)]

    def start_backup(self, kind: str) -> str:
        """Enqueue a backup (high priority); its job id."""
        if kind not in ("full", "incremental"):
            raise ValidationFailed("kind", "invalid_field", "full or incremental")
        record, _ = self.jobs.enqueue(keys.TASK_BACKUP, kwargs={"kind": kind}, priority=9)
        return record.job_id

    def start_restore(self, backup_id: str, *, force: bool) -> str:
        """Enqueue a restore (checked here first: an unknown backup is a 422, not a job)."""
        place = self.place
        if "/" in backup_id or backup_id in ("", ".", "..") or backup_id not in place.ids():
            raise NotFound(f"no backup {backup_id!r}")
        backup.read(place, backup_id)  # incomplete, corrupt or foreign: said now, not later
        kwargs = {"backup_id": backup_id, "force": force}
        record, _ = self.jobs.enqueue(keys.TASK_RESTORE, kwargs=kwargs, priority=9)
        return record.job_id
