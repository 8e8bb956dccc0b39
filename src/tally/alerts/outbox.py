"""The notification outbox: rows written with the state change, sent and marked by jobs.

A row is `pending` until a sender claims it (`sending`, with a lease), then `sent`, or
`failed` after the last try; `suppressed` rows (muted rule, rate limit) are kept, unsent.
A sender that dies after sending and before marking leaves `sending` behind: once its lease
runs out the row is sent again, with the same id (the receiver's Idempotency-Key).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.alerts import tables as t

HOUR_S = 3600.0


class Status(StrEnum):
    """Where a notification is."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True, slots=True)
class Limits:
    """Notifications allowed per rule and in all per hour (the rest are suppressed)."""

    per_rule_per_hour: int
    per_hour: int


def _sent_in_last_hour(conn: Connection, now: float, rule_id: int | None) -> int:
    n = t.notifications
    query = sa.select(sa.func.count()).where(
        n.c.created_at > now - HOUR_S, n.c.status != Status.SUPPRESSED.value, n.c.kind != "test"
    )
    if rule_id is not None:
        query = query.where(n.c.rule_id == rule_id)
    return int(conn.execute(query).scalar_one())


def add(
    conn: Connection,
    *,
    rule_id: int | None,
    event_id: int | None,
    kind: str,
    channel_ids: list[int],
    payload: dict[str, Any],
    now: float,
    limits: Limits | None,
    suppress: str | None = None,
) -> list[str]:
    """One row per channel, in the caller's transaction; the ids to send (not suppressed)."""
    if suppress is None and limits is not None and channel_ids:
        if _sent_in_last_hour(conn, now, rule_id) + len(channel_ids) > limits.per_rule_per_hour:
            suppress = f"rate limit: over {limits.per_rule_per_hour} notifications/hour for a rule"
        elif _sent_in_last_hour(conn, now, None) + len(channel_ids) > limits.per_hour:
            suppress = f"rate limit: over {limits.per_hour} notifications/hour in all"
    ids = []
    for channel_id in channel_ids:
        nid = str(uuid.uuid4())
        conn.execute(
            sa.insert(t.notifications).values(
                id=nid, rule_id=rule_id, event_id=event_id, channel_id=channel_id, kind=kind,
                status=(Status.SUPPRESSED if suppress else Status.PENDING).value, attempts=0,
                next_attempt_at=now, created_at=now, last_error=suppress,
                payload={**payload, "notification_id": nid},
            )
        )  # fmt: skip
        if not suppress:
            ids.append(nid)
    return ids


def claim(conn: Connection, nid: str, now: float, lease_s: float) -> Any | None:
    """Take a due row for sending (one sender wins); None when not due or taken."""
    n = t.notifications
    free = sa.or_(
        sa.and_(n.c.status == Status.PENDING.value, n.c.next_attempt_at <= now),
        sa.and_(n.c.status == Status.SENDING.value, n.c.lease_until < now),
    )
    done = conn.execute(
        sa.update(n)
        .where(n.c.id == nid, free)
        .values(status=Status.SENDING.value, lease_until=now + lease_s, attempts=n.c.attempts + 1)
    )
    if done.rowcount != 1:
        return None
    return conn.execute(sa.select(n).where(n.c.id == nid)).first()


def begin_attempt(conn: Connection, nid: str, number: int, now: float) -> int:
    """Log an attempt as it starts (`sending`): a sender killed mid-send leaves it visible.

    An attempt still `sending` when its row is claimed again was cut short: `interrupted`.
    """
    a = t.attempts
    conn.execute(
        sa.update(a)
        .where(a.c.notification_id == nid, a.c.outcome == "sending")
        .values(outcome="interrupted", error="the sender stopped before recording the outcome")
    )
    done = conn.execute(
        sa.insert(a)
        .values(notification_id=nid, attempt=number, at=now, outcome="sending", duration_ms=0.0)
        .returning(a.c.id)
    )
    return int(done.scalar_one())


def end_attempt(
    conn: Connection,
    attempt_id: int,
    *,
    ok: bool,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
) -> None:
    """Record how an attempt ended: outcome, code, error and duration."""
    conn.execute(
        sa.update(t.attempts)
        .where(t.attempts.c.id == attempt_id)
        .values(
            outcome="sent" if ok else "failed",
            status_code=status_code,
            error=error,
            duration_ms=round(duration_ms, 3),
        )
    )


def finish(
    conn: Connection, nid: str, *, now: float, error: str | None, retry_at: float | None
) -> None:
    """Mark sent (no error), pending again until `retry_at`, or failed for good."""
    n = t.notifications
    if error is None:
        values: dict[str, Any] = {"status": Status.SENT.value, "sent_at": now, "last_error": None}
    elif retry_at is not None:
        values = {"status": Status.PENDING.value, "next_attempt_at": retry_at, "last_error": error}
    else:
        values = {"status": Status.FAILED.value, "last_error": error}
    conn.execute(
        sa.update(n)
        .where(n.c.id == nid, n.c.status == Status.SENDING.value)
        .values(lease_until=None, **values)
    )


def defer(conn: Connection, nid: str, until: float, attempt_id: int | None = None) -> None:
    """Give a claimed row back, due at `until`, without using a try (its breaker is open)."""
    n = t.notifications
    values = {
        "status": Status.PENDING.value,
        "attempts": n.c.attempts - 1,
        "lease_until": None,
        "next_attempt_at": until,
    }
    conn.execute(
        sa.update(n).where(n.c.id == nid, n.c.status == Status.SENDING.value).values(values)
    )
    if attempt_id is not None:
        conn.execute(sa.delete(t.attempts).where(t.attempts.c.id == attempt_id))


def due(conn: Connection, now: float, limit: int = 500) -> list[str]:
    """Rows to send now: pending and due, or `sending` with a lease run out (a crash)."""
    n = t.notifications
    query = (
        sa.select(n.c.id)
        .where(
            sa.or_(
                sa.and_(n.c.status == Status.PENDING.value, n.c.next_attempt_at <= now),
                sa.and_(n.c.status == Status.SENDING.value, n.c.lease_until < now),
            )
        )
        .order_by(n.c.next_attempt_at)
        .limit(limit)
    )
    found: list[Any] = list(conn.execute(query).scalars().all())
    return [str(r) for r in found]


def listing(
    conn: Connection, *, rule_id: int | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Notifications, newest first, with their attempts (payload left out: it is the context)."""
    n = t.notifications
    query = sa.select(*[c for c in n.c if c.name != "payload"]).order_by(n.c.created_at.desc())
    if rule_id is not None:
        query = query.where(n.c.rule_id == rule_id)
    rows = [dict(r._mapping) for r in conn.execute(query.limit(limit))]
    if rows:
        a = t.attempts
        found = conn.execute(
            sa.select(a).where(a.c.notification_id.in_([r["id"] for r in rows])).order_by(a.c.id)
        )
        by_id: dict[str, list[dict[str, Any]]] = {}
        for logged in found:
            by_id.setdefault(logged.notification_id, []).append(
                {k: v for k, v in logged._mapping.items() if k not in ("id", "notification_id")}
            )
        for shown in rows:
            shown["attempt_log"] = by_id.get(shown["id"], [])
    return rows


def backlog(conn: Connection, now: float) -> dict[str, int]:
    """Counts by status of the last day's notifications (health, metrics)."""
    n = t.notifications
    query = (
        sa.select(n.c.status, sa.func.count())
        .where(n.c.created_at > now - 24 * HOUR_S)
        .group_by(n.c.status)
    )
    return {str(row[0]): int(row[1]) for row in conn.execute(query).all()}


def purge(conn: Connection, before: float) -> dict[str, int]:
    """Remove state changes, and notifications done with, older than `before`."""
    n = t.notifications
    done = [Status.SENT.value, Status.FAILED.value, Status.SUPPRESSED.value]
    old = sa.select(n.c.id).where(n.c.created_at < before, n.c.status.in_(done))
    attempts = conn.execute(sa.delete(t.attempts).where(t.attempts.c.notification_id.in_(old)))
    notes = conn.execute(sa.delete(n).where(n.c.created_at < before, n.c.status.in_(done)))
    events = conn.execute(sa.delete(t.events).where(t.events.c.at < before))
    return {"history": int(events.rowcount or 0), "notifications": int(notes.rowcount or 0),
            "attempts": int(attempts.rowcount or 0)}  # fmt: skip
