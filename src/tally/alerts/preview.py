"""Replay a rule over past data: when it would have fired and resolved.

`events` rules replay the stored events; `metric` rules on `failed_jobs` replay the job
index's failures (the one measure Tally keeps a history of).

The rule is evaluated at evenly spaced times over the range (its own interval, or coarser
so that at most MAX_POINTS evaluations run), with the same conditions and state machine as
the live evaluation. One query reads every evaluation's windows: each event is counted in
the windows of the evaluation times whose look-back covers it.
"""

from __future__ import annotations

import math
import time
from typing import Any

from tally.alerts.condition import Observation, above, below, observe
from tally.alerts.render import iso
from tally.alerts.repo import Rule
from tally.alerts.rules import EventsSpec, MetricSpec
from tally.alerts.series import own_filters, weight_params
from tally.alerts.state import Current, Policy, State, advance
from tally.errors import ValidationFailed
from tally.store.base import Store
from tally.store.sql import Names

MAX_POINTS = 2000


def _query(names: Names, spec: EventsSpec, filters: str) -> str:
    group = spec.group_by or "''"
    return f"""
WITH {{end_ms:Int64}} AS end_ms, {{step_ms:Int64}} AS step_ms, {{window_ms:Int64}} AS window_ms,
     end_ms - toUnixTimestamp64Milli(created_at) AS age_ms
SELECT arrayJoin(range(toUInt64(greatest(0, intDiv(age_ms - {{span_ms:Int64}} + step_ms, step_ms))),
                       toUInt64(least({{points:Int64}}, intDiv(age_ms, step_ms) + 1)))) AS i,
       intDiv(age_ms - i * step_ms, window_ms) AS k,
       {group} AS grp,
       count() AS n,
       sum(transform(event_type, {{weight_types:Array(String)}},
                     {{weight_values:Array(Float64)}}, 0.)) AS weighted,
       uniqExact(user_id) AS users
FROM {names.events}
WHERE created_at > fromUnixTimestamp64Milli(end_ms - {{range_ms:Int64}}, 'UTC')
  AND created_at <= fromUnixTimestamp64Milli(end_ms, 'UTC'){filters}
GROUP BY i, k, grp
"""


def check_replayable(rule: Rule) -> None:
    """ValidationFailed (naming `kind`) unless the rule has a history to replay."""
    spec = rule.spec
    if spec.kind == "events" or (spec.kind == "metric" and spec.metric == "failed_jobs"):
        return
    what = f"{spec.kind} {spec.metric}" if spec.kind == "metric" else spec.kind
    raise ValidationFailed(
        "kind", "not_replayable",
        f"preview replays events rules and failed_jobs metrics; a {what} rule is read live, "
        "with no history kept",
    )  # fmt: skip


def _grid(rule: Rule, days: float, now: float | None) -> tuple[float, int, int]:
    """The replay's end, step (s) and number of evaluations."""
    end = float(now if now is not None else time.time())
    span_s = days * 86_400
    step = max(rule.definition.interval_s() or 3600, math.ceil(span_s / MAX_POINTS))
    return end, step, max(1, int(span_s // step))


def _replay(
    rule: Rule, series: dict[str, dict[int, Observation]], end: float, step: int, points: int
) -> dict[str, Any]:
    """Run the state machine over each group's observations, oldest first."""
    d = rule.definition
    policy = Policy(d.for_, d.repeat_interval_s, d.notify_resolved)
    transitions: list[dict[str, Any]] = []
    episodes: list[dict[str, Any]] = []
    for group, per_point in sorted(series.items()):
        state = Current()
        for i in range(points - 1, -1, -1):
            at = end - i * step
            seen = per_point[i]
            step_ = advance(state, seen, policy, at)
            if step_.changed:
                transitions.append({"at": iso(at), "group": group, "from": state.state.value,
                                    "to": step_.after.state.value, "value": seen.value,
                                    "bound": seen.bound, "note": seen.note})  # fmt: skip
                if step_.after.state is State.FIRING:
                    episodes.append({"group": group, "fired_at": iso(at), "resolved_at": None})
                elif step_.after.state is State.RESOLVED:
                    mine = [e for e in episodes if e["group"] == group]
                    if mine:
                        mine[-1]["resolved_at"] = iso(at)
            state = step_.after
    return {
        "rule": rule.name, "from": iso(end - (points - 1) * step), "to": iso(end),
        "step_s": step, "evaluations": points, "groups": len(series),
        "fired": len(episodes), "episodes": episodes, "transitions": transitions,
    }  # fmt: skip


def preview_failures(
    rule: Rule, days: float, failures: list[tuple[float, str]], *, now: float | None = None
) -> dict[str, Any]:
    """Replay a `failed_jobs` rule over the job index's history of failures."""
    spec = rule.spec
    assert isinstance(spec, MetricSpec)
    assert spec.bound is not None
    end, step, points = _grid(rule, days, now)
    compare = above if spec.condition == "above" else below
    tasks = sorted({t for _, t in failures} | ({spec.task} if spec.task else set()))
    series = {}
    for task in tasks:
        times = sorted(at for at, t in failures if t == task)
        series[task] = {
            i: compare(float(sum(1 for at in times
                                 if end - i * step - spec.window_s < at <= end - i * step)),
                       spec.bound)
            for i in range(points)
        }  # fmt: skip
    return _replay(rule, series, end, step, points)


def preview(
    store: Store, rule: Rule, days: float, weights: dict[str, float], *, now: float | None = None
) -> dict[str, Any]:
    """Evaluate an `events` rule over the past `days`; its transitions and firing episodes."""
    check_replayable(rule)
    spec = rule.spec
    assert isinstance(spec, EventsSpec)
    assert spec.bound is not None
    end, step, points = _grid(rule, days, now)
    needed = spec.windows_needed()
    filters, filter_params = own_filters(spec)
    params: dict[str, Any] = {
        "end_ms": int(end * 1000), "step_ms": step * 1000, "window_ms": spec.window_s * 1000,
        "span_ms": needed * spec.window_s * 1000, "points": points,
        "range_ms": int((points * step + needed * spec.window_s) * 1000),
    }  # fmt: skip
    params |= weight_params(weights) | filter_params
    rows = store.query(_query(store.names, spec, filters), params)
    measure = {"count": "n", "weighted": "weighted", "unique_users": "users"}[spec.measure]
    series: dict[str, dict[int, list[float]]] = {}
    for row in rows:
        k = int(row["k"])
        if k >= needed:
            continue
        per_point = series.setdefault(str(row["grp"]), {})
        per_point.setdefault(int(row["i"]), [0.0] * needed)[k] = float(row[measure])
    if spec.group_by is None:
        series.setdefault("", {})
    observed = {
        group: {i: observe(spec.condition, per_point.get(i, [0.0] * needed), spec.bound,
                           direction=spec.direction) for i in range(points)}
        for group, per_point in series.items()
    }  # fmt: skip
    return _replay(rule, observed, end, step, points)
