"""Rules, channels, states and history in the metadata database (SQLAlchemy Core)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.engine import Connection

from tally.alerts import tables as t
from tally.alerts.rules import RuleIn, Spec
from tally.alerts.state import Current, State
from tally.errors import Conflict, NotFound
from tally.infra.metadb.db import is_id

_SPEC: TypeAdapter[Spec] = TypeAdapter(Spec)


@dataclass(frozen=True, slots=True)
class Rule:
    """A stored rule: its definition, and when it is next due."""

    id: int
    name: str
    spec: Spec
    definition: RuleIn
    channel_ids: list[int]
    muted_until: float | None
    next_eval_at: float
    last_eval_at: float | None
    created_at: float
    updated_at: float

    def muted(self, now: float) -> bool:
        """True while `muted_until` is ahead: states are tracked, nothing is sent."""
        return self.muted_until is not None and self.muted_until > now


def rule_of(row: Any, channel_names: dict[int, str]) -> Rule:
    """A stored row as a Rule (channel ids shown by name in its definition)."""
    ids = [int(i) for i in row.channels]
    definition = RuleIn.model_validate(
        {
            "name": row.name,
            "spec": row.spec,
            "every_s": row.every_s,
            "cron": row.cron,
            "for": row.for_count,
            "repeat_interval_s": row.repeat_interval_s,
            "notify_resolved": row.notify_resolved,
            "severity": row.severity,
            "labels": row.labels,
            "channels": [channel_names.get(i, f"#{i}") for i in ids],
            "templates": row.templates,
            "enabled": row.enabled,
        }
    )
    return Rule(
        id=row.id, name=row.name, spec=definition.spec, definition=definition, channel_ids=ids,
        muted_until=row.muted_until, next_eval_at=row.next_eval_at, last_eval_at=row.last_eval_at,
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


def channel_names(conn: Connection) -> dict[int, str]:
    """Every channel's name by id."""
    return {r.id: r.name for r in conn.execute(sa.select(t.channels.c.id, t.channels.c.name))}


def rules(conn: Connection, *, ids: list[int] | None = None) -> list[Rule]:
    """Rules by name (or those of `ids`)."""
    query = sa.select(t.rules).order_by(t.rules.c.name)
    if ids is not None:
        query = query.where(t.rules.c.id.in_(ids))
    names = channel_names(conn)
    return [rule_of(row, names) for row in conn.execute(query)]


def rule(conn: Connection, ref: str | int) -> Rule:
    """One rule by id or name (NotFound otherwise)."""
    col = t.rules.c.id if is_id(ref) else t.rules.c.name
    key: Any = int(ref) if col is t.rules.c.id else ref
    row = conn.execute(sa.select(t.rules).where(col == key)).first()
    if row is None:
        raise NotFound(f"no alert rule {ref!r}")
    return rule_of(row, channel_names(conn))


def rule_values(definition: RuleIn, channel_ids: list[int], now: float) -> dict[str, Any]:
    """A definition as the columns of `analytics_alerts`."""
    muted = definition.muted_until.timestamp() if definition.muted_until else None
    return {
        "name": definition.name,
        "kind": definition.kind.value,
        "spec": _SPEC.dump_python(definition.spec, mode="json"),
        "every_s": definition.every_s,
        "cron": definition.cron,
        "for_count": definition.for_,
        "repeat_interval_s": definition.repeat_interval_s,
        "notify_resolved": definition.notify_resolved,
        "severity": definition.severity.value,
        "labels": definition.labels,
        "channels": channel_ids,
        "templates": definition.templates.model_dump(),
        "enabled": definition.enabled,
        "muted_until": muted,
        "updated_at": now,
    }


def save_rule(
    conn: Connection, definition: RuleIn, channel_ids: list[int], rule_id: int | None = None
) -> int:
    """Insert a rule (or replace `rule_id`); Conflict when the name is taken."""
    now = time.time()
    values = rule_values(definition, channel_ids, now)
    taken = conn.execute(
        sa.select(t.rules.c.id).where(t.rules.c.name == definition.name)
    ).scalar_one_or_none()
    if taken is not None and taken != rule_id:
        raise Conflict(f"an alert rule named {definition.name!r} exists", "exists")
    if rule_id is None:
        values |= {"created_at": now, "next_eval_at": now}
        insert = sa.insert(t.rules).values(**values).returning(t.rules.c.id)
        return int(conn.execute(insert).scalar_one())
    values["next_eval_at"] = now  # a changed rule is evaluated at the next tick
    conn.execute(sa.update(t.rules).where(t.rules.c.id == rule_id).values(**values))
    return rule_id


def delete_rule(conn: Connection, rule_id: int) -> None:
    """Remove a rule and its states (its history stays, for the record)."""
    conn.execute(sa.delete(t.states).where(t.states.c.rule_id == rule_id))
    conn.execute(sa.delete(t.rules).where(t.rules.c.id == rule_id))


def set_muted(conn: Connection, rule_id: int, until: float | None) -> None:
    """Mute a rule until `until` (None: unmute)."""
    conn.execute(
        sa.update(t.rules)
        .where(t.rules.c.id == rule_id)
        .values(muted_until=until, updated_at=time.time())
    )


def claim_all(
    conn: Connection, due: list[Rule], next_at: dict[int, float], now: float, *, forced: bool
) -> set[int]:
    """Take these rules' evaluation slots in one statement: the ids this evaluator won.

    A rule another evaluator took first has moved its next_eval_at past `now` and is not
    updated again (`forced`: taken whether due or not).
    """
    r = t.rules
    won: set[int] = set()
    # Interval rules move on by their interval in SQL; cron rules take their next time.
    steady = [x.id for x in due if x.definition.interval_s() is not None]
    timed = {x.id: next_at[x.id] for x in due if x.definition.interval_s() is None}
    for ids, value in (
        (steady, now + sa.func.coalesce(r.c.every_s, 60)),
        (list(timed), sa.case(timed, value=r.c.id) if timed else None),
    ):
        if not ids:
            continue
        query = (
            sa.update(r)
            .where(r.c.id.in_(ids))
            .values(next_eval_at=value, last_eval_at=now)
            .returning(r.c.id)
        )
        if not forced:
            query = query.where(r.c.next_eval_at <= now)
        taken: list[Any] = list(conn.execute(query).scalars().all())
        won |= {int(i) for i in taken}
    return won


def states(conn: Connection, rule_ids: list[int]) -> dict[int, dict[str, Current]]:
    """The stored state of each (rule, group) of these rules."""
    out: dict[int, dict[str, Current]] = {i: {} for i in rule_ids}
    query = sa.select(t.states).where(t.states.c.rule_id.in_(rule_ids))
    for row in conn.execute(query):
        out[row.rule_id][row.group_key] = Current(
            State(row.state), row.since, row.breaches, row.last_notified_at, row.version
        )
    return out


def state_rows(conn: Connection, rule_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """States as the API shows them: value, bound, since, message."""
    query = sa.select(t.states).order_by(t.states.c.rule_id, t.states.c.group_key)
    if rule_ids is not None:
        query = query.where(t.states.c.rule_id.in_(rule_ids))
    return [dict(row._mapping) for row in conn.execute(query)]


def history(
    conn: Connection,
    *,
    rule_id: int | None = None,
    since: float | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """State changes, newest first."""
    query = sa.select(t.events).order_by(t.events.c.at.desc(), t.events.c.id.desc()).limit(limit)
    if rule_id is not None:
        query = query.where(t.events.c.rule_id == rule_id)
    if since is not None:
        query = query.where(t.events.c.at >= since)
    return [dict(row._mapping) for row in conn.execute(query)]
