"""The refresh log (seed 001's `analytics_refresh_log`): one row per node per invocation."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.dbt import tables as t
from tally.dbt.runner import Outcome


def record(conn: Connection, outcome: Outcome, job_id: str | None) -> int:
    """Write an invocation's nodes (once: a retried write of the same invocation is a no-op)."""
    if not outcome.nodes:
        return 0
    log = t.refresh_log
    query = sa.select(log.c.node_id).where(log.c.invocation_id == outcome.invocation_id)
    have: set[Any] = set(conn.execute(query).scalars().all())
    rows = [
        {"invocation_id": outcome.invocation_id, "job_id": job_id, "command": outcome.command,
         "node_id": n.node_id, "resource_type": n.resource_type, "status": n.status,
         "started_at": n.started_at, "completed_at": n.completed_at,
         "execution_time_s": n.execution_time_s, "rows_affected": n.rows_affected,
         "message": n.message, "created_at": time.time()}
        for n in outcome.nodes if n.node_id not in have
    ]  # fmt: skip
    if rows:
        conn.execute(sa.insert(log), rows)
    return len(rows)


def invocations(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest invocations, newest first, with counts per status."""
    log = t.refresh_log
    query = (
        sa.select(log.c.invocation_id, log.c.command, log.c.job_id,
                  sa.func.min(log.c.started_at).label("started_at"),
                  sa.func.max(log.c.completed_at).label("completed_at"),
                  sa.func.count().label("nodes"),
                  sa.func.max(log.c.created_at).label("created_at"))
        .group_by(log.c.invocation_id, log.c.command, log.c.job_id)
        .order_by(sa.desc("created_at")).limit(limit)
    )  # fmt: skip
    found = [dict(r._mapping) for r in conn.execute(query)]
    ids = [f["invocation_id"] for f in found]
    statuses: dict[str, dict[str, int]] = {}
    if ids:
        counted = conn.execute(
            sa.select(log.c.invocation_id, log.c.status, sa.func.count())
            .where(log.c.invocation_id.in_(ids)).group_by(log.c.invocation_id, log.c.status)
        ).all()  # fmt: skip
        for row in counted:
            statuses.setdefault(str(row[0]), {})[str(row[1])] = int(row[2])
    for f in found:
        f["statuses"] = statuses.get(f["invocation_id"], {})
    return found


def nodes(conn: Connection, invocation_id: str) -> list[dict[str, Any]]:
    """Every node of one invocation, in the order dbt ran them."""
    log = t.refresh_log
    rows = conn.execute(sa.select(log).where(log.c.invocation_id == invocation_id)
                        .order_by(log.c.started_at, log.c.id))  # fmt: skip
    return [dict(r._mapping) for r in rows]


def delete_before(conn: Connection, before: float) -> int:
    """Remove rows older than `before` (maintenance's cleanup); how many."""
    done = conn.execute(sa.delete(t.refresh_log).where(t.refresh_log.c.created_at < before))
    return int(done.rowcount or 0)
