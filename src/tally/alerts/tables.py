"""The alerts tables of the metadata database, as SQLAlchemy Core sees them (0002_alerts)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
_TIME = sa.Float(53)

rules = sa.Table(
    "analytics_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("every_s", sa.Integer),
    sa.Column("cron", sa.String(120)),
    sa.Column("for_count", sa.Integer, nullable=False),
    sa.Column("repeat_interval_s", sa.Integer, nullable=False),
    sa.Column("notify_resolved", sa.Boolean, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("channels", sa.JSON, nullable=False),
    sa.Column("templates", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("muted_until", _TIME),
    sa.Column("next_eval_at", _TIME, nullable=False),
    sa.Column("last_eval_at", _TIME),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
)

channels = sa.Table(
    "alert_channels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("secrets", sa.JSON, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
)

states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("rule_id", sa.Integer, primary_key=True),
    sa.Column("group_key", sa.String(300), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("since", _TIME, nullable=False),
    sa.Column("breaches", sa.Integer, nullable=False),
    sa.Column("value", sa.Float(53)),
    sa.Column("bound", sa.Float(53)),
    sa.Column("message", sa.Text),
    sa.Column("last_notified_at", _TIME),
    sa.Column("evaluated_at", _TIME, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.Integer, nullable=False),
    sa.Column("group_key", sa.String(300), nullable=False),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("from_state", sa.String(16), nullable=False),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("value", sa.Float(53)),
    sa.Column("bound", sa.Float(53)),
    sa.Column("message", sa.Text),
)

notifications = sa.Table(
    "alert_notifications",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("rule_id", sa.Integer),
    sa.Column("event_id", sa.Integer),
    sa.Column("channel_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", _TIME, nullable=False),
    sa.Column("lease_until", _TIME),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("sent_at", _TIME),
    sa.Column("last_error", sa.Text),
    sa.Column("payload", sa.JSON, nullable=False),
)

attempts = sa.Table(
    "alert_delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("notification_id", sa.String(36), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Float(53), nullable=False),
)
