"""The reports tables of the metadata database, as SQLAlchemy Core sees them (0003_reports)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
_TIME = sa.Float(53)

reports = sa.Table(
    "analytics_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("cron", sa.String(120)),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("next_run_at", _TIME),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
)

runs = sa.Table(
    "report_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("report_id", sa.Integer),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("slot", _TIME),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_until", _TIME),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("started_at", _TIME),
    sa.Column("finished_at", _TIME),
    sa.Column("rows", sa.BigInteger),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("sha256", sa.String(64)),
    sa.Column("duration_ms", sa.Float(53)),
    sa.Column("file_path", sa.String(500)),
    sa.Column("note", sa.Text),
    sa.Column("error", sa.Text),
)

deliveries = sa.Table(
    "report_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("target", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", _TIME, nullable=False),
    sa.Column("lease_until", _TIME),
    sa.Column("location", sa.String(1000)),
    sa.Column("error", sa.Text),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("delivered_at", _TIME),
)
