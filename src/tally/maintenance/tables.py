"""The maintenance tables of the metadata database, as SQLAlchemy Core sees them (0005)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
_TIME = sa.Float(53)

catalog = sa.Table(
    "analytics_catalog",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("database_name", sa.String(200), nullable=False),
    sa.Column("table_name", sa.String(200), nullable=False),
    sa.Column("engine", sa.String(100), nullable=False),
    sa.Column("rows", sa.BigInteger),
    sa.Column("bytes_on_disk", sa.BigInteger),
    sa.Column("parts", sa.Integer),
    sa.Column("partitions", sa.Integer),
    sa.Column("last_modified", _TIME),
    sa.Column("refreshed_at", _TIME, nullable=False),
)

query_statistics = sa.Table(
    "query_statistics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hour", _TIME, nullable=False),
    sa.Column("query_hash", sa.String(32), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("calls", sa.BigInteger, nullable=False),
    sa.Column("total_ms", sa.Float(53), nullable=False),
    sa.Column("max_ms", sa.Float(53), nullable=False),
    sa.Column("p95_ms", sa.Float(53), nullable=False),
    sa.Column("read_rows", sa.BigInteger, nullable=False),
    sa.Column("read_bytes", sa.BigInteger, nullable=False),
    sa.Column("refreshed_at", _TIME, nullable=False),
)

worker_metrics = sa.Table(
    "worker_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("process", sa.String(200), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("pid", sa.Integer),
    sa.Column("cpu_percent", sa.Float(53)),
    sa.Column("rss_bytes", sa.BigInteger),
    sa.Column("open_files", sa.Integer),
    sa.Column("threads", sa.Integer),
    sa.Column("data_dir_bytes", sa.BigInteger),
    sa.Column("disk_free_bytes", sa.BigInteger),
    sa.Column("waiting_jobs", sa.Integer),
    sa.Column("running_jobs", sa.Integer),
    sa.Column("buffered_events", sa.BigInteger),
    sa.Column("stored_events", sa.BigInteger),
    sa.Column("finished_jobs_24h", sa.Integer),
)

task_statistics = sa.Table(
    "task_statistics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hour", _TIME, nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("succeeded", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("retries", sa.Integer, nullable=False),
    sa.Column("p50_s", sa.Float(53)),
    sa.Column("p95_s", sa.Float(53)),
    sa.Column("refreshed_at", _TIME, nullable=False),
)

backups = sa.Table(
    "backups",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("base_id", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("path", sa.String(1000), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("finished_at", _TIME),
    sa.Column("store_bytes", sa.BigInteger),
    sa.Column("metadata_bytes", sa.BigInteger),
    sa.Column("events", sa.BigInteger),
    sa.Column("error", sa.Text),
)
