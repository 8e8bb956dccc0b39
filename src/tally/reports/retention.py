"""Retention: runs older than TALLY_REPORT_RETENTION_DAYS go, with their files everywhere."""

from __future__ import annotations

import logging
import shutil
import time
from typing import Any

from tally.infra.metadb.db import MetadataDB
from tally.reports import files, repo
from tally.settings import ReportsSettings

log = logging.getLogger("tally.reports")
TEMP_GRACE_S = 86_400.0  # a temporary file this old belongs to no render still running


def cleanup(db: MetadataDB, settings: ReportsSettings, now: float | None = None) -> dict[str, Any]:
    """Remove old runs: their own file, each delivered copy (folder or URL), then the rows.

    A delivered copy that cannot be removed now (its store is down) keeps its run, so the
    next cleanup tries again; nothing newer than the retention is touched.
    """
    now = time.time() if now is None else now
    before = now - settings.retention_days * 86_400
    root = settings.directory
    with db.session() as session:
        old = repo.old_runs(session.connection(), before)
    removed_runs: list[str] = []
    counts = {"runs": 0, "files": 0, "delivered_files": 0, "kept_for_retry": 0, "temp_files": 0}
    for run in old:
        try:
            for d in run["deliveries"]:
                location = d["location"]
                if location and not location.startswith("mailto:"):
                    counts["delivered_files"] += int(
                        files.remove(location, settings.storage_options)
                    )
        except files.StorageFailed as exc:
            log.warning("report run %s kept: %s", run["id"], exc.message)
            counts["kept_for_retry"] += 1
            continue
        folder = root / files.RUNS_DIR / run["id"]
        if folder.exists():
            counts["files"] += sum(1 for p in folder.iterdir() if p.is_file())
            shutil.rmtree(folder, ignore_errors=True)
        removed_runs.append(run["id"])
    with db.session() as session:
        repo.delete_runs(session.connection(), removed_runs)
    counts["runs"] = len(removed_runs)
    for temp in (root / files.TEMP_DIR).glob("*.part"):
        if temp.stat().st_mtime < now - TEMP_GRACE_S:
            temp.unlink(missing_ok=True)
            counts["temp_files"] += 1
    return counts
