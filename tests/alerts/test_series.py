"""Every due `events` rule read in one query per window size, on chDB and a live server."""

from __future__ import annotations

import pytest

from tally.alerts.rules import EventsSpec
from tally.alerts.series import Due, by_window, read, window_params
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


def test_one_query_per_window_size_with_values_as_parameters(history: Store) -> None:
    # Given 1,000 rules over two window sizes, with a filter value that is SQL-like text
    rules = [rule(i, window_s=3600 if i % 2 else 60, country="FR") for i in range(1, 1001)]
    rules.append(rule(1001, event_type="x' OR 1=1 --"))
    # Then they are grouped in two queries, and the odd text is a parameter, not SQL
    assert len(by_window(rules)) == 2
    params = window_params(by_window(rules)[3600], int(T0 * 1000), WEIGHTS)
    assert ["x' OR 1=1 --" in str(r) for r in params["rules"]].count(True) == 1
    got = read(history, rules, T0, WEIGHTS)
    assert got[1] == {"": [12.0]}
    assert got[2] == {"": [2.0]}
    assert got[1001] == {"": [0.0]}
