"""alerts: rules, channels, states, history, the notification outbox and its attempts

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Times are epoch seconds in doubles: the same arithmetic on SQLite and PostgreSQL.
_TIME = sa.Float(53)


def upgrade() -> None:
    op.create_table(
        "analytics_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("every_s", sa.Integer, nullable=True),
        sa.Column("cron", sa.String(120), nullable=True),
        sa.Column("for_count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("repeat_interval_s", sa.Integer, nullable=False, server_default="14400"),
        sa.Column("notify_resolved", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("severity", sa.String(16), nullable=False, server_default="warning"),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("templates", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("muted_until", _TIME, nullable=True),
        sa.Column("next_eval_at", _TIME, nullable=False, server_default="0"),
        sa.Column("last_eval_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        # Write-only: read by the senders alone, never by an API answer or a page.
        sa.Column("secrets", sa.JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_table(
        "alert_states",
        sa.Column("rule_id", sa.Integer, primary_key=True),
        sa.Column("group_key", sa.String(300), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", _TIME, nullable=False),
        sa.Column("breaches", sa.Integer, nullable=False, server_default="0"),
        sa.Column("value", sa.Float(53), nullable=True),
        sa.Column("bound", sa.Float(53), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("last_notified_at", _TIME, nullable=True),
        sa.Column("evaluated_at", _TIME, nullable=False),
        # Optimistic concurrency: two evaluators of one slot, one transition.
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.Integer, nullable=False),
        sa.Column("group_key", sa.String(300), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(53), nullable=True),
        sa.Column("bound", sa.Float(53), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
    )
    op.create_index("ix_alert_events_rule_at", "alert_events", ["rule_id", "at"])
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("rule_id", sa.Integer, nullable=True),
        sa.Column("event_id", sa.Integer, nullable=True),
        sa.Column("channel_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_alert_notifications_due", "alert_notifications", ["status", "next_attempt_at"]
    )
    op.create_index("ix_alert_notifications_rule", "alert_notifications", ["rule_id", "created_at"])
    op.create_table(
        "alert_delivery_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.String(36), nullable=False, index=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Float(53), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "alert_delivery_attempts",
        "alert_notifications",
        "alert_events",
        "alert_states",
        "alert_channels",
        "analytics_alerts",
    ):
        op.drop_table(table)
