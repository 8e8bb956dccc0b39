"""Query statistics from the store's query log: slowest and most frequent, per hour."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.maintenance import tables as t
from tally.store.base import Store

# One row per (hour, normalised query): literals stripped, so `WHERE x = 1` and `= 2` meet.
STATS_SQL = """
SELECT toUnixTimestamp(toStartOfHour(event_time)) AS hour,
       toString(normalized_query_hash) AS query_hash,
       substring(any(normalizeQuery(query)), 1, 2000) AS query,
       count() AS calls, sum(query_duration_ms) AS total_ms, max(query_duration_ms) AS max_ms,
       quantile(0.95)(query_duration_ms) AS p95_ms,
       sum(read_rows) AS read_rows, sum(read_bytes) AS read_bytes
FROM system.query_log
WHERE type = 'QueryFinish' AND event_time >= toDateTime({since:UInt32})
  AND query_kind IN ('Select', 'Insert')
GROUP BY hour, query_hash
"""


def read(store: Store, since: float) -> list[dict[str, Any]]:
    """The log's statistics from `since` (the log flushed first)."""
    store.command("SYSTEM FLUSH LOGS")
    rows = store.query(STATS_SQL, {"since": int(since)})
    for r in rows:
        r["hour"] = float(r["hour"])
        for k in ("calls", "read_rows", "read_bytes"):
            r[k] = int(r[k])
        for k in ("total_ms", "max_ms", "p95_ms"):
            r[k] = float(r[k])
    return rows


def upsert(conn: Connection, rows: list[dict[str, Any]], now: float | None = None) -> int:
    """Write the hours read (an hour read again replaces its rows)."""
    now = time.time() if now is None else now
    hours = sorted({r["hour"] for r in rows})
    if hours:
        conn.execute(sa.delete(t.query_statistics).where(t.query_statistics.c.hour.in_(hours)))
        conn.execute(sa.insert(t.query_statistics), [{**r, "refreshed_at": now} for r in rows])
    return len(rows)


def top(conn: Connection, *, since: float, by: str, limit: int = 20) -> list[dict[str, Any]]:
    """The queries of the hours since `since`, slowest (`max_ms`) or most frequent (`calls`)."""
    q = t.query_statistics
    order = q.c.max_ms if by == "slowest" else q.c.calls
    query = (
        sa.select(q.c.query_hash, sa.func.max(q.c.query).label("query"),
                  sa.func.sum(q.c.calls).label("calls"),
                  sa.func.sum(q.c.total_ms).label("total_ms"),
                  sa.func.max(q.c.max_ms).label("max_ms"),
                  sa.func.max(q.c.p95_ms).label("p95_ms"),
                  sa.func.sum(q.c.read_rows).label("read_rows"))
        .where(q.c.hour >= since).group_by(q.c.query_hash)
        .order_by(sa.func.max(order).desc() if by == "slowest" else sa.func.sum(order).desc())
        .limit(limit)
    )  # fmt: skip
    return [dict(r._mapping) for r in conn.execute(query)]
