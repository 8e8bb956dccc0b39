"""Monitoring (seed 001's `worker_metrics`, `task_statistics`): processes, queues, tasks.

Each worker puts its own CPU, memory, open files and threads in its heartbeat; the
`monitoring.collect` job writes every live worker's figures, and the deployment's (jobs
waiting and running, events buffered and stored), so the dashboard's last-hour charts
come from the metadata DB: they survive restarts and agree between API processes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import psutil
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.jobs.record import JobRecord
from tally.jobs.stats import by_task
from tally.maintenance import tables as t

HOUR_S = 3600.0


def process_metrics(proc: psutil.Process | None = None) -> dict[str, Any]:
    """This process's (or `proc`'s) CPU since the last call, memory, open files, threads."""
    proc = proc or psutil.Process()
    with proc.oneshot():
        try:
            files = proc.num_fds()
        except (AttributeError, psutil.Error):  # not on every platform
            files = len(proc.open_files())
        return {"pid": proc.pid, "cpu_percent": proc.cpu_percent(None),
                "rss_bytes": proc.memory_info().rss, "open_files": files,
                "threads": proc.num_threads()}  # fmt: skip


def dir_bytes(path: Path) -> int:
    """Bytes of the files under `path` (0 when it does not exist)."""
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # removed meanwhile (a merge, a flush's stage file)
                continue
    return total


class Figures(Protocol):
    """What the deployment looks like now (the runtime implements it)."""

    def processes(self) -> list[dict[str, Any]]:
        """Each live Tally process: name, role and `process_metrics` (from heartbeats)."""
        ...

    def deployment(self) -> dict[str, Any]:
        """Jobs waiting and running, events buffered and stored, jobs finished in 24 h."""
        ...


def collect(conn: Connection, figures: Figures, data_dir: Path, now: float) -> int:
    """Write one row per process and one for the deployment; how many rows."""
    usage = shutil.disk_usage(data_dir) if data_dir.exists() else None
    disk = {"data_dir_bytes": dir_bytes(data_dir),
            "disk_free_bytes": None if usage is None else usage.free}  # fmt: skip
    keep = ("pid", "cpu_percent", "rss_bytes", "open_files", "threads")
    rows = [
        {"at": now, "process": str(p.get("name") or p.get("pid")),
         "role": str(p.get("role", "worker")), **{k: p.get(k) for k in keep}}
        for p in figures.processes()
    ]  # fmt: skip
    rows.append({"at": now, "process": "deployment", "role": "deployment", **disk,
                 **figures.deployment()})  # fmt: skip
    conn.execute(sa.insert(t.worker_metrics), [_full(r) for r in rows])  # one executemany
    return len(rows)


def _full(row: dict[str, Any]) -> dict[str, Any]:
    # executemany wants the same keys in every row: what a row does not give is left empty
    return {c.name: row.get(c.name) for c in t.worker_metrics.columns if c.name != "id"}


def record(conn: Connection, row: dict[str, Any]) -> None:
    """One worker_metrics row (columns it does not give are left empty)."""
    conn.execute(sa.insert(t.worker_metrics).values(_full(row)))


def samples(conn: Connection, since: float) -> list[dict[str, Any]]:
    """The deployment's rows since `since`, oldest first (the overview's charts)."""
    m = t.worker_metrics
    query = sa.select(m).where(m.c.role == "deployment", m.c.at >= since).order_by(m.c.at)
    return [dict(r._mapping) for r in conn.execute(query)]


def latest_processes(conn: Connection, since: float) -> list[dict[str, Any]]:
    """Each process's latest row since `since`."""
    m = t.worker_metrics
    newest = (
        sa.select(m.c.process, sa.func.max(m.c.at).label("at"))
        .where(m.c.role != "deployment", m.c.at >= since)
        .group_by(m.c.process)
        .subquery()
    )
    same = sa.and_(m.c.process == newest.c.process, m.c.at == newest.c.at)
    query = sa.select(m).join(newest, same).order_by(m.c.process)
    return [dict(r._mapping) for r in conn.execute(query)]


def task_statistics(conn: Connection, records: Iterable[JobRecord], since: float,
                    now: float) -> int:  # fmt: skip
    """Per task and hour since `since`: runs, failures, retries, p50/p95 (hours rewritten)."""
    by_hour: dict[float, list[JobRecord]] = {}
    for r in records:
        if r.finished_at is None or r.finished_at < since:
            continue
        by_hour.setdefault(r.finished_at - r.finished_at % HOUR_S, []).append(r)
    rows = [
        {"hour": hour, "task": s.task, "runs": s.runs, "succeeded": s.succeeded,
         "failed": s.failed, "retries": s.retries, "p50_s": s.p50_s, "p95_s": s.p95_s,
         "refreshed_at": now}
        for hour, jobs in by_hour.items() for s in by_task(jobs)
    ]  # fmt: skip
    ts = t.task_statistics
    if by_hour:
        conn.execute(sa.delete(ts).where(ts.c.hour.in_(list(by_hour))))
        conn.execute(sa.insert(ts), rows)
    return len(rows)


def task_rows(conn: Connection, since: float) -> list[dict[str, Any]]:
    """Task statistics since `since`, newest hour first."""
    ts = t.task_statistics
    query = sa.select(ts).where(ts.c.hour >= since).order_by(ts.c.hour.desc(), ts.c.task)
    return [dict(r._mapping) for r in conn.execute(query)]


def purge(conn: Connection, before: float) -> dict[str, int]:
    """Remove metrics, task and query statistics older than `before`."""
    gone = {
        "worker_metrics": conn.execute(sa.delete(t.worker_metrics)
                                       .where(t.worker_metrics.c.at < before)).rowcount,
        "task_statistics": conn.execute(sa.delete(t.task_statistics)
                                        .where(t.task_statistics.c.hour < before)).rowcount,
        "query_statistics": conn.execute(sa.delete(t.query_statistics)
                                         .where(t.query_statistics.c.hour < before)).rowcount,
    }  # fmt: skip
    return {k: int(v or 0) for k, v in gone.items()}
