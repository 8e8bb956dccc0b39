"""reports: definitions, runs (one per report and slot) and their deliveries

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIME = sa.Float(53)


def upgrade() -> None:
    op.create_table(
        "analytics_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("cron", sa.String(120), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("next_run_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_table(
        "report_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("report_id", sa.Integer, nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        # The scheduled slot (epoch seconds); NULL for an ad hoc run. One run per slot.
        sa.Column("slot", _TIME, nullable=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("rows", sa.BigInteger, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("duration_ms", sa.Float(53), nullable=True),
        sa.Column("file_path", sa.String(500), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.UniqueConstraint("report_id", "slot", name="uq_report_runs_slot"),
    )
    op.create_index("ix_report_runs_created", "report_runs", ["created_at"])
    op.create_index("ix_report_runs_report", "report_runs", ["report_id", "created_at"])
    op.create_table(
        "report_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("location", sa.String(1000), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.UniqueConstraint("run_id", "position", name="uq_report_deliveries_target"),
    )


def downgrade() -> None:
    op.drop_table("report_deliveries")
    op.drop_index("ix_report_runs_report", "report_runs")
    op.drop_index("ix_report_runs_created", "report_runs")
    op.drop_table("report_runs")
    op.drop_table("analytics_reports")
