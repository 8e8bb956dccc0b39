"""The state machine of one (rule, group): ok → pending → firing → resolved, and error."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from tally.alerts.condition import Observation


class State(StrEnum):
    """Where a (rule, group) is."""

    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"
    ERROR = "error"


class Notify(StrEnum):
    """Why a notification goes out."""

    FIRING = "firing"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    ERROR = "error"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class Current:
    """A (rule, group)'s state as stored, before an evaluation."""

    state: State = State.OK
    since: float = 0.0
    breaches: int = 0
    last_notified_at: float | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class Policy:
    """The parts of a rule the state machine reads."""

    for_count: int = 1
    repeat_interval_s: float = 4 * 3600
    notify_resolved: bool = True


@dataclass(frozen=True, slots=True)
class Step:
    """An evaluation's outcome: the new state, the change to record, what to notify."""

    after: Current
    changed: bool
    notify: Notify | None


def advance(before: Current, seen: Observation, policy: Policy, now: float) -> Step:
    """The next state after observing `seen` at `now`."""
    if seen.breached:
        breaches = before.breaches + 1
        if before.state is State.FIRING:
            due = before.last_notified_at is None or (
                now - before.last_notified_at >= policy.repeat_interval_s
            )
            after = replace(before, breaches=breaches)
            if due:
                return Step(
                    replace(after, last_notified_at=now), changed=False, notify=Notify.REPEAT
                )
            return Step(after, changed=False, notify=None)
        if breaches >= policy.for_count:
            after = Current(State.FIRING, now, breaches, now, before.version)
            return Step(after, changed=True, notify=Notify.FIRING)
        if before.state is State.PENDING:
            return Step(replace(before, breaches=breaches), changed=False, notify=None)
        return Step(
            Current(State.PENDING, now, breaches, None, before.version), changed=True, notify=None
        )
    if before.state is State.FIRING:
        notify = Notify.RESOLVED if policy.notify_resolved else None
        stamp = now if notify else before.last_notified_at
        after = Current(State.RESOLVED, now, 0, stamp, before.version)
        return Step(after, changed=True, notify=notify)
    if before.state in (State.PENDING, State.ERROR):
        return Step(
            Current(State.OK, now, 0, before.last_notified_at, before.version),
            changed=True,
            notify=None,
        )
    return Step(replace(before, breaches=0), changed=False, notify=None)


def failed(before: Current, now: float) -> Step:
    """A rule whose query failed: `error`, notified once when it enters that state."""
    if before.state is State.ERROR:
        return Step(before, changed=False, notify=None)
    return Step(
        Current(State.ERROR, now, 0, now, before.version), changed=True, notify=Notify.ERROR
    )
