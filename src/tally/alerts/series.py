"""Every `events` rule due in one evaluation, computed in the store in a few queries.

Rules are batched by window size (and, for unique users, by look-back: a long anomaly
history does not make the others read it); one query per batch scans the look-back once.
GROUPING SETS aggregate the batch under each combination of columns its rules filter or
group by (`country`; `event_type, country`; …), and each rule picks its rows here by its
filter values. Counts and weights are first summed by the finest key, so the sets run over
a few thousand rows; unique users, which do not add up, are counted over the events.
1,000 rules cost a few scans, not 1,000 (bench/alerts.py). Values a user wrote travel as
query parameters or are matched in Python; never in the SQL text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tally.alerts.rules import EventsSpec
from tally.store.base import Store
from tally.store.sql import Names

UNGROUPED = ""
DIMENSIONS = ("event_type", "country", "category", "entity")
_VALUE = {"count": "n", "weighted": "weighted", "unique_users": "users"}


@dataclass(frozen=True, slots=True)
class Due:
    """One `events` rule to evaluate: its id and spec."""

    rule_id: int
    spec: EventsSpec


# (rule id) -> (group) -> measures of windows 0 (current), 1 (previous), …
Windows = dict[int, dict[str, list[float]]]


def filters(spec: EventsSpec) -> tuple[str, ...]:
    """The columns a rule filters on, in DIMENSIONS order."""
    return tuple(c for c in DIMENSIONS if getattr(spec, c) is not None)


def own_filters(spec: EventsSpec) -> tuple[str, dict[str, str]]:
    """A rule's filters as ` AND …` conditions and their parameters, for a query of its own."""
    where, params = [], {}
    for c in filters(spec):
        column = "concat(entity_type, ':', entity_id)" if c == "entity" else c
        where.append(f" AND {column} = {{{c}:String}}")
        params[c] = str(getattr(spec, c))
    return "".join(where), params


def weight_params(weights: dict[str, float]) -> dict[str, Any]:
    """The analytics weights as the `weight_types` and `weight_values` parameters."""
    return {"weight_types": list(weights), "weight_values": [float(w) for w in weights.values()]}


def grouping_set(spec: EventsSpec) -> tuple[str, ...]:
    """The columns a rule's measure is aggregated by: its filters and its grouping."""
    wanted = set(filters(spec)) | ({spec.group_by} if spec.group_by else set())
    return tuple(c for c in DIMENSIONS if c in wanted)


def batches(rules: Sequence[Due]) -> dict[tuple[int, int, bool], list[Due]]:
    """Rules by (window size, look-back, unique users): one query each.

    Counts and weights share one look-back per window size (the longest); unique users are
    split by look-back, their costlier aggregation reading no more than each needs.
    """
    out: dict[tuple[int, int, bool], list[Due]] = defaultdict(list)
    for due in rules:
        users = due.spec.measure == "unique_users"
        # One or two windows cost alike (a query's fixed cost dominates): one batch for both.
        span = max(2, due.spec.windows_needed()) if users else 0
        out[(due.spec.window_s, span, users)].append(due)
    return dict(out)


def sets_query(
    names: Names, sets: dict[tuple[str, ...], int], *, users: bool
) -> tuple[str, dict[int, tuple[str, ...]]]:
    """The measures of one batch under each grouping set, and which set each `grouping()`
    value names. `sets` maps each set to the windows its rules read (rows of older windows
    are not returned). Column lists come from DIMENSIONS, never from input.

    Counts and weights add up, so the events are first aggregated by the finest key and the
    grouping sets run over those few rows. Unique users do not: their sets run over the
    events, each user hashed once (cityHash64: 64 bits; two users share a hash with odds of
    about n²/2⁶⁵).
    """
    used = [c for c in DIMENSIONS if any(c in s for s in sets)]
    width = len(used)
    masks = {sum(1 << (width - 1 - i) for i, c in enumerate(used) if c not in s): s for s in sets}
    # Output names of their own: an alias named like a column would shadow it.
    select = ", ".join(f"{c if c in used else repr('')} AS d_{c}" for c in DIMENSIONS)
    grouping = f"grouping({', '.join(used)})" if used else "0"
    group_sets = ", ".join("(" + ", ".join(("k", *s)) + ")" for s in sets)
    spans = {mask: sets[s] for mask, s in masks.items()}
    keep = f"k < transform(g, {list(spans)}, {list(spans.values())}, 0)"
    # The entity's name is built only when a rule of the batch names one.
    entity = (
        "if(has({entities:Array(String)}, concat(entity_type, ':', entity_id) AS full), "
        "full, '') AS entity"
        if any("entity" in s for s in sets)
        else "'' AS entity"
    )
    window = (
        "created_at > fromUnixTimestamp64Milli(end_ms - {span:Int64} * window_ms, 'UTC') "
        "AND created_at <= fromUnixTimestamp64Milli(end_ms, 'UTC')"
    )
    k = "intDiv(end_ms - toUnixTimestamp64Milli(created_at), window_ms) AS k"
    if users:
        measures = "uniqExact(user) AS v_users"
        source = f"""SELECT {k}, event_type, country, category, {entity},
                   cityHash64(user_id) AS user
            FROM {names.events} PREWHERE {window}"""
    else:
        measures = "sum(n) AS v_n, sum(w) AS v_weighted"
        weight = (
            "transform(event_type, {weight_types:Array(String)}, "
            "{weight_values:Array(Float64)}, 0.)"
        )
        source = f"""SELECT {k}, event_type, country, category, {entity},
                   count() AS n, sum({weight}) AS w
            FROM {names.events} PREWHERE {window}
            GROUP BY k, event_type, country, category, entity"""
    return (
        f"""
WITH {{end_ms:Int64}} AS end_ms, {{window_ms:Int64}} AS window_ms
SELECT k, {select}, {grouping} AS g, {measures}
FROM ({source})
GROUP BY GROUPING SETS ({group_sets})
HAVING {keep}
-- Every batch, and every cycle after it, reads the same recent parts: keep them unpacked
-- (11% faster over 1,000 rules in bench/alerts.py).
SETTINGS use_uncompressed_cache = 1
""",
        masks,
    )


def _read_batch(
    store: Store, rules: Sequence[Due], end_ms: int, weights: dict[str, float], *,
    users: bool, out: Windows,
) -> None:  # fmt: skip
    sets: dict[tuple[str, ...], int] = {}
    for due in rules:
        columns = grouping_set(due.spec)
        sets[columns] = max(sets.get(columns, 0), due.spec.windows_needed())
    query, masks = sets_query(store.names, dict(sorted(sets.items())), users=users)
    params: dict[str, Any] = {
        "end_ms": end_ms,
        "window_ms": rules[0].spec.window_s * 1000,
        "span": max(d.spec.windows_needed() for d in rules),
        "entities": sorted({d.spec.entity for d in rules if d.spec.entity is not None}),
    }
    if not users:
        params |= weight_params(weights)
    rows_of: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in store.query(query, params):
        rows_of[masks[int(row["g"])]].append(row)
    # Rows of a set, by the values of the columns some rule filters on.
    index: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[tuple[Any, ...], list[Any]]] = {}
    for due in rules:
        s, cols = due.spec, filters(due.spec)
        key = (grouping_set(s), cols)
        if key not in index:
            found: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
            for row in rows_of[key[0]]:
                found[tuple(row[f"d_{c}"] for c in cols)].append(row)
            index[key] = found
        needed, value = s.windows_needed(), f"v_{_VALUE[s.measure]}"
        for row in index[key].get(tuple(getattr(s, c) for c in cols), []):
            k = int(row["k"])
            if k < needed:
                group = str(row[f"d_{s.group_by}"]) if s.group_by else UNGROUPED
                out[due.rule_id].setdefault(group, [0.0] * needed)[k] = float(row[value])


def read(store: Store, rules: Sequence[Due], end_s: float, weights: dict[str, float]) -> Windows:
    """The measure of each due rule's windows ending at `end_s`, per group (0 where empty).

    An ungrouped rule always has its one series; a grouped rule has the groups seen in any
    of its windows (others are added by the caller from the states it keeps).
    """
    out: Windows = {d.rule_id: {} for d in rules}
    end_ms = int(end_s * 1000)
    for (_, _, users), same in batches(rules).items():
        _read_batch(store, same, end_ms, weights, users=users, out=out)
    for due in rules:
        if due.spec.group_by is None:
            out[due.rule_id].setdefault(UNGROUPED, [0.0] * due.spec.windows_needed())
    return out


def one_rule(
    store: Store, due: Due, end_s: float, weights: dict[str, float]
) -> dict[str, list[float]]:
    """One rule read with a query of its own: what a rule-at-a-time evaluator does.

    Not used by the evaluation: it is the baseline of bench/alerts.py and the reference the
    tests compare the batched queries with.
    """
    s = due.spec
    where, filter_params = own_filters(s)
    measure = {
        "count": "toFloat64(count())",
        "weighted": "sum(transform(event_type, {weight_types:Array(String)}, "
        "{weight_values:Array(Float64)}, 0.))",
        "unique_users": "toFloat64(uniqExact(user_id))",
    }[s.measure]
    needed = s.windows_needed()
    query = f"""
SELECT {s.group_by or "''"} AS grp,
       intDiv({{end_ms:Int64}} - toUnixTimestamp64Milli(created_at), {{window_ms:Int64}}) AS k,
       {measure} AS value
FROM {store.names.events}
WHERE created_at > fromUnixTimestamp64Milli({{end_ms:Int64}} - {needed} * {{window_ms:Int64}},
                                          'UTC')
  AND created_at <= fromUnixTimestamp64Milli({{end_ms:Int64}}, 'UTC')
  {where}
GROUP BY grp, k
"""
    params: dict[str, Any] = {"end_ms": int(end_s * 1000), "window_ms": s.window_s * 1000}
    params |= weight_params(weights) | filter_params
    out: dict[str, list[float]] = {}
    for row in store.query(query, params):
        out.setdefault(str(row["grp"]), [0.0] * needed)[int(row["k"])] = float(row["value"])
    if s.group_by is None:
        out.setdefault(UNGROUPED, [0.0] * needed)
    return out
