"""Backups (seed 003): the store through ClickHouse's BACKUP, the metadata DB beside it.

A backup `<id>` (a folder of TALLY_BACKUP_DIR, or under TALLY_BACKUP_URL on S3) holds
`store/` (ClickHouse's backup, incremental on the latest full one), the metadata DB's
dump, and `manifest.json`, written last: without it, it is not a backup. The store's
BACKUP runs ASYNC and is polled, so flushes go on meanwhile. A restore first restores into
a database of its own, then swaps the tables in: a corrupt or foreign backup leaves the
current store as it was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from tally.errors import Conflict, StoreError, ValidationFailed
from tally.maintenance import metadump
from tally.maintenance.places import Place
from tally.store.base import Store
from tally.store.sql import Names

FORMAT = 1
MANIFEST = "manifest.json"
POLL_S = 0.2
Progress = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class Backup:
    """A complete backup, as its manifest says."""

    id: str
    kind: str
    base: str | None
    created_at: float
    finished_at: float
    database: str
    table: str
    events: int
    store_bytes: int
    metadata_bytes: int
    metadata_file: str
    location: str

    def public(self) -> dict[str, Any]:
        """What the API and the CLI show."""
        keep = ("id", "kind", "base", "created_at", "finished_at", "events", "store_bytes",
                "metadata_bytes", "location")  # fmt: skip
        return {k: getattr(self, k) for k in keep}


def read(place: Place, backup_id: str) -> Backup:
    """The backup `backup_id`; ValidationFailed when incomplete, corrupt or not Tally's."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / MANIFEST
        if not place.get(backup_id, MANIFEST, copy):
            raise ValidationFailed(
                "backup", "incomplete", f"{backup_id}: no {MANIFEST} (not finished)"
            )
        text = copy.read_text()
    try:
        doc = json.loads(text)
        if doc.get("tally_backup") != FORMAT:
            raise ValidationFailed("backup", "foreign", f"{backup_id} is not a Tally backup")
        return Backup(
            id=str(doc["id"]), kind=str(doc["kind"]), base=doc.get("base"),
            created_at=float(doc["created_at"]), finished_at=float(doc["finished_at"]),
            database=str(doc["database"]), table=str(doc["table"]), events=int(doc["events"]),
            store_bytes=int(doc["store_bytes"]), metadata_bytes=int(doc["metadata_bytes"]),
            metadata_file=str(doc["metadata_file"]), location=place.describe(backup_id),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        message = f"{backup_id}: {MANIFEST} unreadable ({exc})"
        raise ValidationFailed("backup", "corrupt", message) from None


def listing(place: Place) -> list[Backup]:
    """Complete backups, newest first (unfinished or foreign ones are left out)."""
    found = []
    for backup_id in place.ids():
        try:
            found.append(read(place, backup_id))
        except ValidationFailed:
            continue
    return sorted(found, key=lambda b: b.created_at, reverse=True)


def _wait(store: Store, backup_id: str, progress: Progress, start_pct: float) -> dict[str, Any]:
    """Poll system.backups until the ASYNC operation ends; its row."""
    pct = start_pct
    while True:
        rows = store.query("SELECT status, error, total_size, num_files FROM system.backups "
                           "WHERE id = {id:String}", {"id": backup_id})  # fmt: skip
        row = rows[0] if rows else {"status": "UNKNOWN", "error": "the operation disappeared"}
        status = str(row["status"])
        if status in ("BACKUP_CREATED", "RESTORED"):
            return row
        if status.endswith("FAILED") or status in (
            "UNKNOWN",
            "BACKUP_CANCELLED",
            "RESTORE_CANCELLED",
        ):
            raise StoreError(
                f"{status.lower()}: {str(row.get('error') or '').splitlines()[0][:300]}"
            )
        pct = min(start_pct + 40, pct + 1)
        progress(pct, status.lower().replace("_", " "))
        time.sleep(POLL_S)


def create(store: Store, names: Names, metadata_url: URL, place: Place, *, kind: str, now: float,
           progress: Progress) -> Backup:  # fmt: skip
    """A full backup, or an incremental one on the latest full (a full when there is none)."""
    fulls = [b for b in listing(place) if b.kind == "full"] if kind == "incremental" else []
    base = fulls[0] if fulls else None
    if kind == "incremental" and base is None:
        kind = "full"
    backup_id = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M%S") + f"-{kind[:4]}"
    if backup_id in place.ids():
        backup_id += f"-{uuid.uuid4().hex[:4]}"
    tmp = Path(tempfile.mkdtemp(prefix="tally-backup-"))
    try:
        progress(5, f"backing up the store ({kind})")
        sql = f"BACKUP DATABASE {names.database} TO {place.engine(backup_id)}"
        if base is not None:
            sql += f" SETTINGS base_backup = {place.engine(base.id)}"
        started = store.query(sql + " ASYNC")
        events = int(store.query(f"SELECT count() AS n FROM {names.events}")[0]["n"])
        _wait(store, str(next(iter(started[0].values()))), progress, 10)
        progress(60, "backing up the metadata database")
        meta_file = metadump.file_name(metadata_url)
        meta_bytes = metadump.dump(metadata_url, tmp / meta_file)
        place.put(backup_id, meta_file, tmp / meta_file)
        finished = time.time()
        manifest = {
            "tally_backup": FORMAT, "id": backup_id, "kind": kind,
            "base": None if base is None else base.id, "created_at": now, "finished_at": finished,
            "database": names.database, "table": names.table, "events": events,
            "store_bytes": place.size(backup_id), "metadata_bytes": meta_bytes,
            "metadata_file": meta_file,
        }  # fmt: skip
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        place.put(backup_id, MANIFEST, tmp / MANIFEST)  # the backup exists from here on
    except BaseException:
        place.remove(backup_id)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    progress(100, f"backup {backup_id} done")
    return read(place, backup_id)


def restore(store: Store, names: Names, metadata_url: URL, place: Place, backup_id: str, *,
            busy: str | None, force: bool, progress: Progress) -> Backup:  # fmt: skip
    """Replace the store's tables and the metadata DB with a backup's."""
    if "/" in backup_id or backup_id in ("", ".", "..") or backup_id not in place.ids():
        raise ValidationFailed("backup", "unknown", f"no backup {backup_id!r}")
    backup = read(place, backup_id)
    if backup.database != names.database:
        message = f"{backup_id} is of database {backup.database!r}, not {names.database!r}"
        raise ValidationFailed("backup", "foreign", message)
    if busy and not force:
        raise Conflict(f"{busy}: a restore now would lose it (stop ingest, or --force)", "busy")
    staging = f"{names.database}_restore_{uuid.uuid4().hex[:8]}"
    progress(5, f"restoring {backup_id} beside the store")
    try:
        started = store.query(f"RESTORE DATABASE {names.database} AS {staging} FROM "
                              f"{place.engine(backup_id)} ASYNC")  # fmt: skip
        _wait(store, str(next(iter(started[0].values()))), progress, 10)
    except StoreError:
        store.command(f"DROP DATABASE IF EXISTS {staging} SYNC")
        raise
    progress(60, "swapping the restored tables in")
    tables = "SELECT name FROM system.tables WHERE database = {db:String}"
    restored = [r["name"] for r in store.query(tables, {"db": staging})]
    current = {r["name"] for r in store.query(tables, {"db": names.database})}
    for table in restored:
        if table in current:
            store.command(f"EXCHANGE TABLES {names.database}.{table} AND {staging}.{table}")
        else:
            store.command(f"RENAME TABLE {staging}.{table} TO {names.database}.{table}")
    store.command(f"DROP DATABASE IF EXISTS {staging} SYNC")  # the tables swapped out
    progress(80, "restoring the metadata database")
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / backup.metadata_file
        if not place.get(backup_id, backup.metadata_file, dump):
            raise ValidationFailed("backup", "incomplete", f"{backup_id}: no metadata dump")
        metadump.load(metadata_url, dump)
    progress(100, f"restored {backup_id}")
    return backup


def prune(place: Place, keep_days: float, now: float) -> list[str]:
    """Remove backups older than `keep_days`, never a full one a kept backup builds on."""
    found = listing(place)
    keep = {b.id for b in found if b.created_at >= now - keep_days * 86_400}
    if found:
        keep.add(found[0].id)  # the newest stays, however old
    keep |= {b.base for b in found if b.id in keep and b.base}
    removed = []
    for b in found:
        if b.id not in keep:
            place.remove(b.id)
            removed.append(b.id)
    return removed
