"""Every `events` rule due in one evaluation, computed in the store: one query per window size.

The events of the longest look-back are aggregated once by (window index, event type,
country, category, named entity); each aggregate row then meets the rules whose filters
it matches through a hash join on the filter values, where a rule's unset filter is `*`
and the row offers each wildcard pattern the due rules use. 1,000 rules cost one scan and
one join, not 1,000 scans (bench/alerts.py). Everything a user wrote is a query parameter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tally.alerts.rules import EventsSpec
from tally.store.base import Store
from tally.store.sql import Names

ANY = "*"  # an unset filter in the join key (no country, category or event type is "*")
UNGROUPED = ""


@dataclass(frozen=True, slots=True)
class Due:
    """One `events` rule to evaluate: its id and spec."""

    rule_id: int
    spec: EventsSpec


# (rule id) -> (group) -> measures of windows 0 (current), 1 (previous), …
Windows = dict[int, dict[str, list[float]]]


def _mask(spec: EventsSpec) -> tuple[int, int, int, int]:
    return (
        int(spec.event_type is not None),
        int(spec.country is not None),
        int(spec.category is not None),
        int(spec.entity is not None),
    )


def _rule_row(due: Due) -> tuple[int, str, str, str, str, str, str, int]:
    s = due.spec
    return (
        due.rule_id,
        s.event_type if s.event_type is not None else ANY,
        s.country if s.country is not None else ANY,
        s.category if s.category is not None else ANY,
        s.entity if s.entity is not None else ANY,
        s.group_by or UNGROUPED,
        s.measure,
        s.windows_needed(),
    )


def window_query(names: Names) -> str:
    """The query for rules sharing one window size (parameters: see `window_params`)."""
    return f"""
WITH {{end_ms:Int64}} AS end_ms, {{window_ms:Int64}} AS window_ms
SELECT r.1 AS rule, multiIf(r.6 = 'country', a.country, r.6 = 'category', a.category, '') AS grp,
       a.k AS k,
       sum(a.n) AS n,
       sum(a.n * transform(a.event_type, {{weight_types:Array(String)}},
                           {{weight_values:Array(Float64)}}, 0.)) AS weighted,
       uniqExactMerge(a.users) AS users,
       any(r.7) AS measure
FROM (
    SELECT intDiv(end_ms - toUnixTimestamp64Milli(created_at), window_ms) AS k,
           event_type, country, category,
           if(has({{entities:Array(String)}}, concat(entity_type, ':', entity_id)),
              concat(entity_type, ':', entity_id), '') AS entity,
           count() AS n,
           uniqExactStateIf(user_id, {{wants_users:UInt8}} = 1) AS users
    FROM {names.events}
    WHERE created_at > fromUnixTimestamp64Milli(end_ms - {{span:Int64}} * window_ms, 'UTC')
      AND created_at <= fromUnixTimestamp64Milli(end_ms, 'UTC')
    GROUP BY k, event_type, country, category, entity
) AS a
ARRAY JOIN {{masks:Array(Tuple(UInt8, UInt8, UInt8, UInt8))}} AS m
INNER JOIN (
    SELECT arrayJoin({{rules:Array(Tuple(Int64, String, String, String, String, String, String,
                                          Int64))}}) AS r,
           r.2 AS r_type, r.3 AS r_country, r.4 AS r_category, r.5 AS r_entity
) AS rs
ON rs.r_type = if(m.1 = 1, a.event_type, '{ANY}')
   AND rs.r_country = if(m.2 = 1, a.country, '{ANY}')
   AND rs.r_category = if(m.3 = 1, a.category, '{ANY}')
   AND rs.r_entity = if(m.4 = 1, a.entity, '{ANY}')
WHERE a.k < r.8
GROUP BY rule, grp, k
"""


def window_params(rules: Sequence[Due], end_ms: int, weights: dict[str, float]) -> dict[str, Any]:
    """Parameters of `window_query` for rules of one window size, ending at `end_ms`."""
    window_s = rules[0].spec.window_s
    masks = sorted({_mask(d.spec) for d in rules})
    return {
        "end_ms": end_ms,
        "window_ms": window_s * 1000,
        "span": max(d.spec.windows_needed() for d in rules),
        "weight_types": list(weights),
        "weight_values": [float(w) for w in weights.values()],
        "entities": sorted({d.spec.entity for d in rules if d.spec.entity is not None}),
        "wants_users": int(any(d.spec.measure == "unique_users" for d in rules)),
        "masks": masks,
        "rules": [_rule_row(d) for d in rules],
    }


def by_window(rules: Sequence[Due]) -> dict[int, list[Due]]:
    """Rules grouped by window size: one query each."""
    out: dict[int, list[Due]] = defaultdict(list)
    for due in rules:
        out[due.spec.window_s].append(due)
    return dict(out)


def read(store: Store, rules: Sequence[Due], end_s: float, weights: dict[str, float]) -> Windows:
    """The measure of each due rule's windows ending at `end_s`, per group (0 where empty).

    An ungrouped rule always has its one series; a grouped rule has the groups seen in any
    of its windows (others are added by the caller from the states it keeps).
    """
    out: Windows = {d.rule_id: {} for d in rules}
    end_ms = int(end_s * 1000)
    for same in by_window(rules).values():
        rows = store.query(window_query(store.names), window_params(same, end_ms, weights))
        needed = {d.rule_id: d.spec.windows_needed() for d in same}
        for row in rows:
            rule = int(row["rule"])
            series = out[rule].setdefault(str(row["grp"]), [0.0] * needed[rule])
            measure = {"count": "n", "weighted": "weighted", "unique_users": "users"}
            series[int(row["k"])] = float(row[measure[str(row["measure"])]])
        for due in same:
            if due.spec.group_by is None:
                out[due.rule_id].setdefault(UNGROUPED, [0.0] * needed[due.rule_id])
    return out
