"""dbt: the refresh log, one row per node of each dbt invocation

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TIME = sa.Float(53)


def upgrade() -> None:
    # Seed 001's table: what each refresh (a dbt model, test, snapshot or source freshness
    # check) did, when, how long, with how many rows.
    op.create_table(
        "analytics_refresh_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("invocation_id", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(200), nullable=True),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("node_id", sa.String(500), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("completed_at", _TIME, nullable=True),
        sa.Column("execution_time_s", sa.Float(53), nullable=True),
        sa.Column("rows_affected", sa.BigInteger, nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.UniqueConstraint("invocation_id", "node_id", name="uq_refresh_log_node"),
    )
    op.create_index("ix_refresh_log_created", "analytics_refresh_log", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_refresh_log_created", "analytics_refresh_log")
    op.drop_table("analytics_refresh_log")
