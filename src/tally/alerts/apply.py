"""Write one rule's evaluation: states, the changes in the history, and their notifications.

All of one rule's groups are written in one transaction with the notifications they cause
(the outbox), so a state change is never recorded without its notifications, nor the
reverse. A state row changes only from the version read (a concurrent evaluator loses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally.alerts import outbox, repo
from tally.alerts import tables as t
from tally.alerts.condition import Observation
from tally.alerts.outbox import Limits
from tally.alerts.render import context
from tally.alerts.repo import Rule
from tally.alerts.state import Current, Notify, Policy, State, Step, advance, failed
from tally.errors import Conflict, TallyError
from tally.infra.metadb.db import MetadataDB


class Superseded(TallyError):
    """Another evaluator changed this state first; this evaluation's writes are dropped."""


@dataclass(frozen=True, slots=True)
class Applied:
    """An evaluation written: the state changes made and the notifications to send."""

    changes: int
    notifications: list[str]


def policy(rule: Rule) -> Policy:
    """The rule's `for`, repeat interval and resolve notification."""
    d = rule.definition
    return Policy(d.for_, d.repeat_interval_s, d.notify_resolved)


def rule_summary(rule: Rule) -> dict[str, Any]:
    """The rule as a notification names it."""
    spec = rule.spec
    return {
        "id": rule.id,
        "name": rule.name,
        "kind": spec.kind,
        "condition": getattr(spec, "condition", spec.kind),
        "severity": rule.definition.severity.value,
        "labels": rule.definition.labels,
    }


def _write_state(
    conn: Connection, rule_id: int, group: str, before: Current, step: Step, seen: Observation,
    now: float, *, exists: bool,
) -> None:  # fmt: skip
    a = step.after
    values = {
        "state": a.state.value, "since": a.since, "breaches": a.breaches, "value": seen.value,
        "bound": seen.bound, "message": seen.note or None, "last_notified_at": a.last_notified_at,
        "evaluated_at": now,
    }  # fmt: skip
    s = t.states
    if not exists:
        conn.execute(sa.insert(s).values(rule_id=rule_id, group_key=group, version=1, **values))
        return
    done = conn.execute(
        sa.update(s)
        .where(s.c.rule_id == rule_id, s.c.group_key == group, s.c.version == before.version)
        .values(version=before.version + 1, **values)
    )
    if done.rowcount != 1:
        raise Superseded(f"alert rule {rule_id} group {group!r} changed meanwhile")


@dataclass(frozen=True, slots=True)
class Evaluated:
    """One rule's observations from a cycle (or the reason it could not be evaluated)."""

    rule: Rule
    seen: dict[str, Observation]
    error: str | None = None
    known: dict[str, Current] | None = None  # the states read at the cycle's start


def apply(
    db: MetadataDB,
    rule: Rule,
    seen: dict[str, Observation],
    now: float,
    *,
    limits: Limits,
    dashboard_url: str,
    error: str | None = None,
) -> Applied:
    """Advance each observed group of `rule` (or put it in `error`), in one transaction."""
    try:
        with db.session() as session:
            return _apply_in(session.connection(), rule, seen, now, limits, dashboard_url, error)
    except Conflict as exc:  # a state row inserted by a concurrent evaluator
        raise Superseded(str(exc)) from None


def apply_all(
    db: MetadataDB, evaluated: list[Evaluated], now: float, *, limits: Limits, dashboard_url: str
) -> dict[int, Applied]:
    """Write a cycle's rules in one transaction; if another writer got in, rule by rule.

    A cycle's rules are claimed by it, so a concurrent writer is rare: one commit for the
    whole cycle is what keeps 1,000 rules fast.
    """
    try:
        with db.session() as session:
            conn = session.connection()
            refresh: list[dict[str, Any]] = []
            out = {
                e.rule.id: _apply_in(
                    conn,
                    e.rule,
                    e.seen,
                    now,
                    limits,
                    dashboard_url,
                    e.error,
                    known=e.known,
                    refresh=refresh,
                )
                for e in evaluated
            }
            _refresh(conn, refresh)
            return out
    except (Superseded, Conflict):
        pass
    out = {}
    for e in evaluated:
        try:
            out[e.rule.id] = apply(db, e.rule, e.seen, now, limits=limits,
                                   dashboard_url=dashboard_url, error=e.error)  # fmt: skip
        except Superseded:
            continue  # another evaluator wrote this rule: its outcome stands
    return out


def _refresh(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Store the latest value of states that did not change (one statement for the cycle).

    No version check: only the value and time move, and a concurrent writer's are as good.
    """
    if rows:
        s = t.states
        conn.execute(
            sa.update(s)
            .where(s.c.rule_id == sa.bindparam("r_rule"), s.c.group_key == sa.bindparam("r_group"))
            .values(value=sa.bindparam("r_value"), bound=sa.bindparam("r_bound"),
                    message=sa.bindparam("r_message"), evaluated_at=sa.bindparam("r_at")),
            rows,
        )  # fmt: skip


def _apply_in(
    conn: Connection, rule: Rule, seen: dict[str, Observation], now: float, limits: Limits,
    dashboard_url: str, error: str | None, *, known: dict[str, Current] | None = None,
    refresh: list[dict[str, Any]] | None = None,
) -> Applied:  # fmt: skip
    changes, ids = 0, []
    current = known if known is not None else repo.states(conn, [rule.id])[rule.id]
    if error is None:
        # A group in error (the rule's query failed before) is back once evaluated.
        for group, state in current.items():
            if state.state is State.ERROR and group not in seen:
                seen = {**seen, group: Observation(None, None, breached=False)}
    else:
        seen = {"": Observation(None, None, breached=False, note=error)}
    for group, obs in sorted(seen.items()):
        before = current.get(group, Current())
        step = failed(before, now) if error else advance(before, obs, policy(rule), now)
        # A group of a grouped rule that stays ok is not written: countries times rules
        # would otherwise rewrite rows that say nothing (an ungrouped rule keeps its value).
        calm = step.after.state in (State.OK, State.RESOLVED)
        quiet = not step.changed and step.notify is None and calm
        same = step.after == before and not step.changed and step.notify is None
        if quiet and group and step.after.breaches == before.breaches:
            pass
        elif same and refresh is not None and group in current:
            refresh.append({"r_rule": rule.id, "r_group": group, "r_value": obs.value,
                            "r_bound": obs.bound, "r_message": obs.note or None,
                            "r_at": now})  # fmt: skip
        else:
            _write_state(conn, rule.id, group, before, step, obs, now, exists=group in current)
        event_id = None
        if step.changed:
            changes += 1
            event_id = _record(conn, rule.id, group, before.state, step, obs, now)
        if step.notify is not None:
            ids += _notify(conn, rule, group, before, step, obs, event_id, now,
                           limits, dashboard_url)  # fmt: skip
    return Applied(changes, ids)


def _record(
    conn: Connection, rule_id: int, group: str, was: State, step: Step, obs: Observation,
    now: float,
) -> int:  # fmt: skip
    done = conn.execute(
        sa.insert(t.events).values(
            rule_id=rule_id, group_key=group, at=now, from_state=was.value,
            to_state=step.after.state.value, value=obs.value, bound=obs.bound,
            message=obs.note or None,
        ).returning(t.events.c.id)
    )  # fmt: skip
    return int(done.scalar_one())


def _notify(
    conn: Connection, rule: Rule, group: str, before: Current, step: Step, obs: Observation,
    event_id: int | None, now: float, limits: Limits, dashboard_url: str,
) -> list[str]:  # fmt: skip
    assert step.notify is not None
    ctx = context(
        notification_id="", kind=step.notify.value, rule=rule_summary(rule), group=group,
        state=step.after.state.value, previous_state=before.state.value, value=obs.value,
        bound=obs.bound, note=obs.note, at=now, url=f"{dashboard_url}/alerts/{rule.id}",
    )  # fmt: skip
    muted = "muted" if rule.muted(now) else None
    payload = {"context": ctx, "templates": rule.definition.templates.model_dump()}
    return outbox.add(
        conn, rule_id=rule.id, event_id=event_id, kind=step.notify.value,
        channel_ids=rule.channel_ids, payload=payload, now=now,
        limits=None if step.notify is Notify.TEST else limits, suppress=muted,
    )  # fmt: skip
