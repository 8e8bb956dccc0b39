"""maintenance: catalog, query statistics, worker metrics, task statistics, backups

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIME = sa.Float(53)


def upgrade() -> None:
    # Seed 001's tables: the store's catalog, worker metrics and task statistics.
    op.create_table(
        "analytics_catalog",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("database_name", sa.String(200), nullable=False),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=True),
        sa.Column("bytes_on_disk", sa.BigInteger, nullable=True),
        sa.Column("parts", sa.Integer, nullable=True),
        sa.Column("partitions", sa.Integer, nullable=True),
        sa.Column("last_modified", _TIME, nullable=True),
        sa.Column("refreshed_at", _TIME, nullable=False),
        sa.UniqueConstraint("database_name", "table_name", name="uq_catalog_table"),
    )
    op.create_table(
        "query_statistics",
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
        sa.UniqueConstraint("hour", "query_hash", name="uq_query_statistics"),
    )
    op.create_table(
        "worker_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("process", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("cpu_percent", sa.Float(53), nullable=True),
        sa.Column("rss_bytes", sa.BigInteger, nullable=True),
        sa.Column("open_files", sa.Integer, nullable=True),
        sa.Column("threads", sa.Integer, nullable=True),
        sa.Column("data_dir_bytes", sa.BigInteger, nullable=True),
        sa.Column("disk_free_bytes", sa.BigInteger, nullable=True),
        # The deployment's figures at that moment (the overview's last-hour charts)
        sa.Column("waiting_jobs", sa.Integer, nullable=True),
        sa.Column("running_jobs", sa.Integer, nullable=True),
        sa.Column("buffered_events", sa.BigInteger, nullable=True),
        sa.Column("stored_events", sa.BigInteger, nullable=True),
        sa.Column("finished_jobs_24h", sa.Integer, nullable=True),
    )
    op.create_index("ix_worker_metrics_at", "worker_metrics", ["at"])
    op.create_table(
        "task_statistics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hour", _TIME, nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("succeeded", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("p50_s", sa.Float(53), nullable=True),
        sa.Column("p95_s", sa.Float(53), nullable=True),
        sa.Column("refreshed_at", _TIME, nullable=False),
        sa.UniqueConstraint("hour", "task", name="uq_task_statistics"),
    )
    op.create_table(
        "backups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("base_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("store_bytes", sa.BigInteger, nullable=True),
        sa.Column("metadata_bytes", sa.BigInteger, nullable=True),
        sa.Column("events", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("backups")
    op.drop_table("task_statistics")
    op.drop_index("ix_worker_metrics_at", "worker_metrics")
    op.drop_table("worker_metrics")
    op.drop_table("query_statistics")
    op.drop_table("analytics_catalog")
