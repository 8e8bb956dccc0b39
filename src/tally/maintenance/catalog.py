"""The store's catalog (seed 001's `analytics_catalog`): every table, its size and parts."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.maintenance import tables as t
from tally.store.base import Store

# System databases are ClickHouse's own; the rest are Tally's and the user's (dbt's too).
CATALOG_SQL = """
SELECT t.database AS database_name, t.name AS table_name, t.engine AS engine,
       t.total_rows AS rows, t.total_bytes AS table_bytes,
       p.bytes AS bytes_on_disk, p.parts AS parts, p.partitions AS partitions,
       toUnixTimestamp(greatest(t.metadata_modification_time, p.modified)) AS last_modified
FROM system.tables AS t
LEFT JOIN (
    SELECT database, table, sum(bytes_on_disk) AS bytes, count() AS parts,
           uniqExact(partition_id) AS partitions, max(modification_time) AS modified
    FROM system.parts WHERE active GROUP BY database, table
) AS p ON p.database = t.database AND p.table = t.name
WHERE t.database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema')
  AND NOT t.is_temporary
ORDER BY database_name, table_name
"""


def read(store: Store) -> list[dict[str, Any]]:
    """The catalog as the store reports it now."""
    rows = store.query(CATALOG_SQL)
    for r in rows:
        r["rows"] = None if r["rows"] is None else int(r["rows"])
        r["bytes_on_disk"] = int(r["bytes_on_disk"] or r.pop("table_bytes") or 0)
        r.pop("table_bytes", None)
        r["parts"] = int(r["parts"] or 0)
        r["partitions"] = int(r["partitions"] or 0)
        r["last_modified"] = float(r["last_modified"] or 0) or None
    return rows


def replace(conn: Connection, rows: list[dict[str, Any]], now: float | None = None) -> int:
    """The catalog becomes `rows` (a snapshot: dropped tables leave it)."""
    now = time.time() if now is None else now
    conn.execute(sa.delete(t.catalog))
    if rows:
        conn.execute(sa.insert(t.catalog), [{**r, "refreshed_at": now} for r in rows])
    return len(rows)


def listing(conn: Connection) -> list[dict[str, Any]]:
    """The catalog, largest tables first."""
    query = sa.select(t.catalog).order_by(t.catalog.c.bytes_on_disk.desc(), t.catalog.c.table_name)
    return [dict(r._mapping) for r in conn.execute(query)]
