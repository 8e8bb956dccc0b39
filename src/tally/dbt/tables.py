"""The dbt tables of the metadata database, as SQLAlchemy Core sees them (0004_dbt)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
_TIME = sa.Float(53)

refresh_log = sa.Table(
    "analytics_refresh_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("invocation_id", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(200)),
    sa.Column("command", sa.String(32), nullable=False),
    sa.Column("node_id", sa.String(500), nullable=False),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("started_at", _TIME),
    sa.Column("completed_at", _TIME),
    sa.Column("execution_time_s", sa.Float(53)),
    sa.Column("rows_affected", sa.BigInteger),
    sa.Column("message", sa.Text),
    sa.Column("created_at", _TIME, nullable=False),
)
