"""Reports, runs and deliveries in the metadata database (SQLAlchemy Core)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.errors import Conflict, NotFound
from tally.infra.metadb.db import is_id
from tally.reports import tables as t
from tally.reports.definitions import ReportIn


class RunStatus(StrEnum):
    """Where a run is: rendered once, then delivered to each target."""

    QUEUED = "queued"
    RENDERING = "rendering"
    DELIVERING = "delivering"
    DONE = "done"
    PARTIAL = "partial"  # rendered; some target failed for good
    FAILED = "failed"  # not rendered


class DeliveryStatus(StrEnum):
    """Where one target's delivery is."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Report:
    """A stored definition and when its next slot is."""

    id: int
    definition: ReportIn
    next_run_at: float | None
    created_at: float
    updated_at: float


def _report(row: Any) -> Report:
    return Report(int(row.id), ReportIn.model_validate(row.definition), row.next_run_at,
                  row.created_at, row.updated_at)  # fmt: skip


def reports(conn: Connection) -> list[Report]:
    """Every report, by name."""
    return [_report(r) for r in conn.execute(sa.select(t.reports).order_by(t.reports.c.name))]


def report(conn: Connection, ref: str | int) -> Report:
    """One report by id or name (NotFound otherwise)."""
    r = t.reports
    cond = r.c.id == int(ref) if is_id(ref) else r.c.name == ref
    row = conn.execute(sa.select(r).where(cond)).first()
    if row is None:
        raise NotFound(f"no report {ref!r}")
    return _report(row)


def save(conn: Connection, definition: ReportIn, now: float, report_id: int | None = None) -> int:
    """Insert or replace a definition; its next slot starts from now."""
    schedule = definition.schedule
    values = {
        "name": definition.name, "source": definition.source.kind,
        "format": definition.format.value, "definition": definition.model_dump(mode="json"),
        "cron": None if schedule is None else schedule.cron,
        "timezone": "UTC" if schedule is None else schedule.timezone,
        "enabled": definition.enabled,
        "next_run_at": None if schedule is None else schedule.next_after(now),
        "updated_at": now,
    }  # fmt: skip
    taken = conn.execute(
        sa.select(t.reports.c.id).where(t.reports.c.name == definition.name)
    ).scalar()
    if taken is not None and taken != report_id:
        raise Conflict(f"a report named {definition.name!r} exists", "name_taken")
    if report_id is None:
        done = conn.execute(
            sa.insert(t.reports).values(created_at=now, **values).returning(t.reports.c.id)
        )
        return int(done.scalar_one())
    conn.execute(sa.update(t.reports).where(t.reports.c.id == report_id).values(**values))
    return report_id


def delete(conn: Connection, report_id: int) -> None:
    """Remove a definition (its runs stay, as history, until retention removes them)."""
    conn.execute(sa.delete(t.reports).where(t.reports.c.id == report_id))


def due(conn: Connection, now: float) -> list[Report]:
    """Enabled scheduled reports whose next slot has come."""
    r = t.reports
    rows = conn.execute(
        sa.select(r).where(
            r.c.enabled.is_(True), r.c.next_run_at.is_not(None), r.c.next_run_at <= now
        )
    )
    return [_report(row) for row in rows]


def advance(conn: Connection, report_id: int, passed: float, next_at: float) -> bool:
    """Move a report past slot `passed` (one ticker wins when two beats race)."""
    r = t.reports
    done = conn.execute(
        sa.update(r)
        .where(r.c.id == report_id, r.c.next_run_at == passed)
        .values(next_run_at=next_at)
    )
    return bool(done.rowcount == 1)


def add_run(conn: Connection, **values: Any) -> None:
    """Insert a run; Conflict when its (report, slot) already has one."""
    conn.execute(sa.insert(t.runs).values(status=RunStatus.QUEUED.value, attempts=0, **values))


def run(conn: Connection, run_id: str) -> Any:
    """One run's row (NotFound otherwise)."""
    row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no report run {run_id!r}")
    return row


def run_of_slot(conn: Connection, report_id: int, slot: float) -> Any | None:
    """The run of a report's slot, if any."""
    r = t.runs
    return conn.execute(sa.select(r).where(r.c.report_id == report_id, r.c.slot == slot)).first()


def claim_run(conn: Connection, run_id: str, now: float, lease_s: float) -> Any | None:
    """Take a run to render: queued, or rendering under a lease that ran out (a crash)."""
    r = t.runs
    free = sa.or_(
        r.c.status == RunStatus.QUEUED.value,
        sa.and_(r.c.status == RunStatus.RENDERING.value, r.c.lease_until < now),
    )
    done = conn.execute(
        sa.update(r).where(r.c.id == run_id, free).values(
            status=RunStatus.RENDERING.value, lease_until=now + lease_s,
            attempts=r.c.attempts + 1, started_at=now, error=None,
        )
    )  # fmt: skip
    return run(conn, run_id) if done.rowcount == 1 else None


def update_run(conn: Connection, run_id: str, **values: Any) -> None:
    """Set fields of a run."""
    conn.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(**values))


def stale_runs(conn: Connection, now: float) -> list[str]:
    """Runs a crashed worker left: rendering past their lease, or queued for a while."""
    r = t.runs
    rows = conn.execute(
        sa.select(r.c.id).where(sa.or_(
            sa.and_(r.c.status == RunStatus.RENDERING.value, r.c.lease_until < now),
            sa.and_(r.c.status == RunStatus.QUEUED.value, r.c.created_at < now - 120),
        ))
    )  # fmt: skip
    found: list[Any] = list(rows.scalars().all())
    return [str(x) for x in found]


def runs(
    conn: Connection, *, report_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Runs newest first, with their deliveries."""
    r = t.runs
    query = sa.select(r).order_by(r.c.created_at.desc()).limit(limit)
    if report_id is not None:
        query = query.where(r.c.report_id == report_id)
    found = [dict(row._mapping) for row in conn.execute(query)]
    by_run = deliveries(conn, [f["id"] for f in found])
    for f in found:
        f["deliveries"] = by_run.get(f["id"], [])
    return found


def deliveries(conn: Connection, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Deliveries of these runs, in target order."""
    if not run_ids:
        return {}
    d = t.deliveries
    out: dict[str, list[dict[str, Any]]] = {}
    rows = conn.execute(sa.select(d).where(d.c.run_id.in_(run_ids)).order_by(d.c.position))
    for row in rows:
        out.setdefault(row.run_id, []).append(dict(row._mapping))
    return out


def add_deliveries(conn: Connection, run_id: str, targets: list[dict[str, Any]],
                   now: float) -> list[int]:  # fmt: skip
    """One row per target (once: a run rendered again keeps its rows); the ids."""
    d = t.deliveries
    have = {int(r.position): int(r.id) for r in conn.execute(
        sa.select(d.c.id, d.c.position).where(d.c.run_id == run_id))}  # fmt: skip
    for i, target in enumerate(targets):
        if i in have:
            continue
        done = conn.execute(
            sa.insert(d).values(
                run_id=run_id, position=i, kind=target["kind"], target=target,
                status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now,
                created_at=now,
            ).returning(d.c.id)
        )  # fmt: skip
        have[i] = int(done.scalar_one())
    return [have[i] for i in sorted(have)]


def claim_delivery(conn: Connection, delivery_id: int, now: float, lease_s: float) -> Any | None:
    """Take a due delivery (one worker wins)."""
    d = t.deliveries
    free = sa.or_(
        sa.and_(d.c.status == DeliveryStatus.PENDING.value, d.c.next_attempt_at <= now),
        sa.and_(d.c.status == DeliveryStatus.SENDING.value, d.c.lease_until < now),
    )
    done = conn.execute(
        sa.update(d).where(d.c.id == delivery_id, free).values(
            status=DeliveryStatus.SENDING.value, lease_until=now + lease_s,
            attempts=d.c.attempts + 1,
        )
    )  # fmt: skip
    if done.rowcount != 1:
        return None
    return conn.execute(sa.select(d).where(d.c.id == delivery_id)).first()


def finish_delivery(conn: Connection, delivery_id: int, **values: Any) -> None:
    """Record how a delivery ended (or when it is tried next)."""
    d = t.deliveries
    conn.execute(sa.update(d).where(d.c.id == delivery_id).values(lease_until=None, **values))


def due_deliveries(conn: Connection, now: float) -> list[int]:
    """Deliveries due again: pending past their time, or sending past their lease."""
    d = t.deliveries
    rows = conn.execute(
        sa.select(d.c.id).where(sa.or_(
            sa.and_(d.c.status == DeliveryStatus.PENDING.value, d.c.next_attempt_at <= now - 5),
            sa.and_(d.c.status == DeliveryStatus.SENDING.value, d.c.lease_until < now),
        ))
    )  # fmt: skip
    found: list[Any] = list(rows.scalars().all())
    return [int(x) for x in found]


def old_runs(conn: Connection, before: float) -> list[dict[str, Any]]:
    """Runs created before `before`, with their deliveries (what retention removes)."""
    r = t.runs
    found = [
        dict(row._mapping) for row in conn.execute(sa.select(r).where(r.c.created_at < before))
    ]
    by_run = deliveries(conn, [f["id"] for f in found])
    for f in found:
        f["deliveries"] = by_run.get(f["id"], [])
    return found


def delete_runs(conn: Connection, run_ids: list[str]) -> None:
    """Remove runs and their deliveries."""
    if run_ids:
        conn.execute(sa.delete(t.deliveries).where(t.deliveries.c.run_id.in_(run_ids)))
        conn.execute(sa.delete(t.runs).where(t.runs.c.id.in_(run_ids)))
