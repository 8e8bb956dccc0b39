"""Conditions against hand-computed values: bounds, changes, an empty previous window, z-scores."""

from __future__ import annotations

import pytest

from tally.alerts.condition import observe


def test_above_and_below_compare_the_current_window_strictly() -> None:
    assert observe("above", [51.0], 50).breached
    assert not observe("above", [50.0], 50).breached
    assert observe("below", [49.0], 50).breached
    assert not observe("below", [50.0], 50).breached


def test_change_is_signed_a_positive_bound_watches_rises_a_negative_one_falls() -> None:
    # Given windows newest first: 30 now, 10 before (a rise of 20)
    rise = observe("change", [30.0, 10.0], 15)
    assert rise.breached
    assert rise.value == 20.0
    assert not observe("change", [30.0, 10.0], 25).breached
    assert not observe("change", [30.0, 10.0], -5).breached  # a rise is not a fall
    assert observe("change", [10.0, 30.0], -15).breached


def test_change_pct_against_the_previous_window() -> None:
    # "below 50% of the previous hour": 40 after 100 is -60 %, 60 after 100 is -40 %
    drop = observe("change_pct", [40.0, 100.0], -50)
    assert drop.breached
    assert drop.value == pytest.approx(-60.0)
    assert not observe("change_pct", [60.0, 100.0], -50).breached
    assert observe("change_pct", [150.0, 100.0], 50).breached  # +50 % reaches +50


def test_change_pct_with_an_empty_previous_window() -> None:
    # Both empty: no change at all
    both = observe("change_pct", [0.0, 0.0], 50)
    assert not both.breached
    assert both.value == 0.0
    # From 0 to 5: an unbounded rise, which fires a rise bound and not a fall bound
    rise = observe("change_pct", [5.0, 0.0], 50)
    assert rise.breached
    assert rise.value is None
    assert "previous window empty" in rise.note
    assert not observe("change_pct", [5.0, 0.0], -50).breached


def test_anomaly_is_the_population_z_score_against_the_trailing_windows() -> None:
    history = [10.0, 12.0, 8.0, 10.0]  # mean 10, population std sqrt(2) = 1.4142
    hit = observe("anomaly", [15.0, *history], 3)
    assert hit.value == pytest.approx(5 / 2**0.5)  # 3.5355
    assert hit.breached
    assert not observe("anomaly", [14.0, *history], 3).breached  # z = 2.83
    # direction: a fall does not fire an "up" rule, and does fire "down"
    assert not observe("anomaly", [5.0, *history], 3, direction="up").breached
    assert observe("anomaly", [5.0, *history], 3, direction="down").breached


def test_anomaly_over_a_flat_history() -> None:
    flat = [7.0, 7.0, 7.0]
    assert not observe("anomaly", [7.0, *flat], 3).breached  # the same value: z = 0
    jump = observe("anomaly", [8.0, *flat], 3)
    assert jump.breached
    assert jump.value is None
