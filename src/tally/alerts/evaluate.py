"""One evaluation cycle: the rules due, their observations, and what they change.

`events` rules due together are read from the store in one query per window size
(alerts.series); `metric` rules from Tally's own measures; `analytics` rules after each
analytics run; `job` rules from the job platform's failure signal (`on_job`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from croniter import croniter

from tally.alerts import repo, series
from tally.alerts.apply import Applied, Evaluated, apply_all
from tally.alerts.condition import Observation, above, below, observe
from tally.alerts.outbox import Limits
from tally.alerts.repo import Rule
from tally.alerts.rules import AnalyticsSpec, EventsSpec, JobSpec, MetricSpec
from tally.alerts.state import State
from tally.errors import NotFound, TallyError
from tally.infra.metadb.db import MetadataDB
from tally.store.base import Store

log = logging.getLogger("tally.alerts")


class Measures(Protocol):
    """Tally's own measures, one value per queue, task or breaker (`runtime` provides it)."""

    def read(self, spec: MetricSpec, now: float) -> dict[str, float]:
        """Value per group of `spec.metric` at `now`."""
        ...

    def failures(self, task: str | None, since: float) -> list[tuple[float, str]]:
        """(finished at, task) of jobs failed for good since `since`: the one measure with a
        history (the job index), which preview replays."""
        ...


class Rankings(Protocol):
    """The published analytics results (tally.analytics.service.AnalyticsService)."""

    def results(
        self, metric: str, by: str, group: str | None, limit: int | None
    ) -> dict[str, Any]: ...


@dataclass
class Sources:
    """Where observations come from; a source a process lacks is None."""

    store: Callable[[], Store] | None = None
    measures: Measures | None = None
    rankings: Rankings | None = None
    weights: dict[str, float] = field(default_factory=dict)


@dataclass
class Cycle:
    """What one cycle did."""

    evaluated: list[str] = field(default_factory=list)
    changes: int = 0
    notifications: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, rule: Rule, applied: Applied) -> None:
        self.evaluated.append(rule.name)
        self.changes += applied.changes
        self.notifications += applied.notifications


def next_eval_at(rule: Rule, now: float) -> float:
    """When the rule is next due: its interval after now, or its cron's next time."""
    interval = rule.definition.interval_s()
    if interval is not None:
        return now + interval
    cron = rule.definition.cron or "* * * * *"
    return float(croniter(cron, datetime.fromtimestamp(now, UTC)).get_next(float))


def scheduled(rule: Rule) -> bool:
    """True for rules evaluated on a schedule (events, metric), not by a signal."""
    return rule.definition.enabled and rule.spec.kind in ("events", "metric")


def claim(db: MetadataDB, now: float, *, only: list[int] | None = None) -> list[Rule]:
    """The scheduled rules due now (or `only` these, due or not), each claimed by this cycle."""
    with db.session() as session:
        candidates = repo.rules(session.connection(), ids=only)
    due = [r for r in candidates if scheduled(r) and (only is not None or r.next_eval_at <= now)]
    next_at = {r.id: next_eval_at(r, now) for r in due}
    with db.session() as session:
        won = repo.claim_all(session.connection(), due, next_at, now, forced=only is not None)
    return [r for r in due if r.id in won]


def _events(rules: list[Rule], sources: Sources, known: dict[int, dict[str, Any]], now: float
            ) -> dict[int, dict[str, Observation] | str]:  # fmt: skip
    out: dict[int, dict[str, Observation] | str] = {}
    if not rules:
        return out
    if sources.store is None:
        return {r.id: "this process has no store to read events from" for r in rules}
    due = [series.Due(r.id, r.spec) for r in rules if isinstance(r.spec, EventsSpec)]
    try:
        windows = series.read(sources.store(), due, now, sources.weights)
    except TallyError as exc:
        return {r.id: f"events query failed: {exc}" for r in rules}
    for rule in rules:
        spec = rule.spec
        assert isinstance(spec, EventsSpec)
        assert spec.bound is not None
        seen = windows[rule.id]
        # A group that breached before and has no event now is measured as 0 (it may resolve).
        for group, state in known[rule.id].items():
            if state.state in (State.PENDING, State.FIRING) and group not in seen:
                seen[group] = [0.0] * spec.windows_needed()
        out[rule.id] = {
            g: observe(spec.condition, w, spec.bound, direction=spec.direction)
            for g, w in seen.items()
        }
    return out


def _metric(rule: Rule, sources: Sources, now: float, known: dict[str, Any]
            ) -> dict[str, Observation] | str:  # fmt: skip
    spec = rule.spec
    assert isinstance(spec, MetricSpec)
    assert spec.bound is not None
    if sources.measures is None:
        return "this process cannot read Tally's measures"
    try:
        values = sources.measures.read(spec, now)
    except TallyError as exc:
        return f"{spec.metric}: {exc}"
    for group, state in known.items():  # a task with no failure left is measured as 0
        if state.state in (State.PENDING, State.FIRING) and group not in values:
            values[group] = 0.0
    compare = above if spec.condition == "above" else below
    return {group: compare(value, spec.bound) for group, value in values.items()}


def run_cycle(
    db: MetadataDB, sources: Sources, now: float, *, limits: Limits, dashboard_url: str,
    only: list[int] | None = None,
) -> Cycle:  # fmt: skip
    """Evaluate every scheduled rule due at `now` (or `only` these) and write the outcome."""
    cycle = Cycle()
    rules = claim(db, now, only=only)
    with db.session() as session:
        known = repo.states(session.connection(), [r.id for r in rules])
    events = _events([r for r in rules if r.spec.kind == "events"], sources, known, now)
    evaluated = []
    for rule in rules:
        if rule.spec.kind == "events":
            seen = events[rule.id]
        else:
            seen = _metric(rule, sources, now, known[rule.id])
        if isinstance(seen, str):
            cycle.errors[rule.name] = seen
            log.warning("alert rule %s cannot be evaluated: %s", rule.name, seen)
            evaluated.append(Evaluated(rule, {}, seen, known=known[rule.id]))
        else:
            evaluated.append(Evaluated(rule, seen, known=known[rule.id]))
    done = apply_all(db, evaluated, now, limits=limits, dashboard_url=dashboard_url)
    for rule in rules:
        if rule.id in done:
            cycle.add(rule, done[rule.id])
    return cycle


def _ranked(rule: Rule, rankings: Rankings) -> dict[str, dict[str, Any]]:
    spec = rule.spec
    assert isinstance(spec, AnalyticsSpec)
    try:
        found = rankings.results(spec.metric, spec.by, spec.group, spec.top_n)
    except NotFound:
        return {}
    rows = found["groups"].get(spec.group, [])[: spec.top_n]
    return {
        f"{r['entity_type']}:{r['entity_id']}": {**r, "rank": i + 1} for i, r in enumerate(rows)
    }


def analytics_observations(rule: Rule, rankings: Rankings, tracked: list[str]
                           ) -> dict[str, Observation]:  # fmt: skip
    """Per entity: in (or out of) the top N, or its trend_score against the bound."""
    spec = rule.spec
    assert isinstance(spec, AnalyticsSpec)
    top = _ranked(rule, rankings)
    where = f"top {spec.top_n} of {spec.metric} in {spec.by} {spec.group}"
    if spec.condition == "trend_score_above":
        assert spec.bound is not None
        entities = set(top) | set(tracked)
        return {
            e: above(float(top[e]["trend_score"]) if e in top else 0.0, spec.bound)
            for e in sorted(entities)
        }
    entities = {spec.entity} if spec.entity else set(top) | set(tracked)
    out = {}
    for entity in sorted(e for e in entities if e):
        rank = top.get(entity, {}).get("rank")
        inside = rank is not None
        breached = inside if spec.condition == "enters" else not inside
        note = f"{entity} rank {rank} in the {where}" if inside else f"{entity} not in the {where}"
        out[entity] = Observation(float(rank) if rank else None, float(spec.top_n), breached, note)
    return out


def job_observations(rule: Rule, task: str, *, failed: bool, error: str | None, job_id: str
                     ) -> dict[str, Observation]:  # fmt: skip
    """A job of a watched task ended: failed for good (breach) or succeeded (resolves)."""
    assert isinstance(rule.spec, JobSpec)
    note = f"job {job_id} of {task} failed for good: {error}" if failed else f"job {job_id} ok"
    return {task: Observation(1.0 if failed else 0.0, 0.0, failed, note)}
