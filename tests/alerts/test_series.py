"""Every due `events` rule read in one query per window size, on chDB and a live server."""

from __future__ import annotations

import pytest

from tally.alerts.rules import EventsSpec
from tally.alerts.series import Due, batches, grouping_set, one_rule, read, sets_query
from tally.store.base import Store
from tests.alerts.conftest import T0, put_events

H = 3600.0
WEIGHTS = {"video_view": 1.5, "like": 2.0}


@pytest.fixture
def history(store: Store) -> Store:
    """Given events around T0: 10 FR views now (3 users), 4 before, 5 DE views, 2 FR likes."""
    rows = [(T0 - 100 - i, "video_view", "FR", "music", f"u{i % 3}") for i in range(10)]
    rows += [(T0 - H - 100 - i, "video_view", "FR", "music", "u9") for i in range(4)]
    rows += [(T0 - 200, "video_view", "DE", "music", "d1")] * 5
    rows += [(T0 - 30, "like", "FR", "news", "u1"), (T0 - 40, "like", "FR", "news", "u2")]
    rows += [(T0 - H, "video_view", "BE", "music", "b1")]  # on the boundary: the window before
    rows += [(T0 + 10, "video_view", "FR", "music", "u1")]  # after the evaluation time
    put_events(store, rows)
    return store


def rule(rule_id: int, **spec: object) -> Due:
    return Due(rule_id, EventsSpec.model_validate({"kind": "events", "bound": 1, **spec}))


def test_each_rule_gets_its_windows_per_group(history: Store) -> None:
    rules = [
        rule(1),
        rule(2, country="FR", event_type="video_view", condition="change_pct", bound=-50),
        rule(3, group_by="country", condition="change", bound=1),
        rule(4, measure="unique_users", country="FR", event_type="video_view"),
        rule(5, entity="video:2"),
        rule(6, measure="weighted"),
        rule(7, category="news", group_by="country"),
        rule(8, window_s=60),
    ]
    # When every rule is read at T0
    got = read(history, rules, T0, WEIGHTS)
    # Then each has the hand-counted windows, newest first
    assert got[1] == {"": [17.0]}
    assert got[2] == {"": [10.0, 4.0]}
    assert got[3] == {"FR": [12.0, 4.0], "DE": [5.0, 0.0], "BE": [0.0, 1.0]}
    assert got[4] == {"": [3.0]}
    assert got[5] == {"": [0.0]}  # no event of that entity: an empty window, not no series
    assert got[6] == {"": [15 * 1.5 + 2 * 2.0]}
    assert got[7] == {"FR": [2.0]}
    assert got[8] == {"": [2.0]}  # the last minute: the two likes


def test_one_query_per_window_size_and_no_user_text_in_sql(history: Store) -> None:
    # Given 1,000 rules over two window sizes, with a filter value that is SQL-like text
    rules = [rule(i, window_s=3600 if i % 2 else 60, country="FR") for i in range(1, 1001)]
    rules.append(rule(1001, event_type="x' OR 1=1 --"))
    # Then they take two queries, and the odd text never reaches the SQL (it is matched here)
    found = batches(rules)
    assert len(found) == 2
    for same in found.values():
        query, _ = sets_query(history.names, {grouping_set(d.spec): 1 for d in same},
                              users=False)  # fmt: skip
        assert "OR 1=1" not in query
    got = read(history, rules, T0, WEIGHTS)
    assert got[1] == {"": [12.0]}
    assert got[2] == {"": [2.0]}
    assert got[1001] == {"": [0.0]}


def test_the_batched_queries_give_what_one_query_per_rule_gives(history: Store) -> None:
    # Given rules mixing every filter, grouping, measure and window length
    specs = []
    for i in range(48):
        spec: dict[str, object] = {"window_s": [60, 3600][i % 2], "measure":
                                   ["count", "weighted", "unique_users"][i % 3]}  # fmt: skip
        if i % 4 == 0:
            spec["event_type"] = "video_view"
        if i % 5 in (1, 2):
            spec["country"] = "FR"
        if i % 6 == 3:
            spec["category"] = "news"
        if i % 7 == 4:
            spec["entity"] = "video:1"
        if "entity" not in spec:
            spec["group_by"] = [None, "country", "category"][(i // 3) % 3]
        spec["condition"] = ["above", "change", "anomaly"][(i // 2) % 3]
        if spec["condition"] == "anomaly":
            spec["windows"] = 3
        specs.append(rule(i, **spec))
    # When read together, Then each rule has exactly what its own query finds
    together = read(history, specs, T0, WEIGHTS)
    for due in specs:
        alone = one_rule(history, due, T0, WEIGHTS)
        zero = [0.0] * due.spec.windows_needed()
        assert {g: w for g, w in together[due.rule_id].items() if w != zero} == {
            g: w for g, w in alone.items() if w != zero
        }, due.spec
