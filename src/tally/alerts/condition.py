"""Whether a rule's windows breach its condition: plain arithmetic, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Observation:
    """What one evaluation saw for one group: the value compared, and whether it breached.

    `value` is what was compared with `bound` (the window's measure, its change, its change
    in percent or its z-score); None when it is not a finite number (a rise from an empty
    previous window, a jump over a flat history), which `note` then says.
    """

    value: float | None
    bound: float | None
    breached: bool
    note: str = ""


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def above(value: float, bound: float) -> Observation:
    """Breach when value > bound."""
    return Observation(value, bound, value > bound)


def below(value: float, bound: float) -> Observation:
    """Breach when value < bound."""
    return Observation(value, bound, value < bound)


def _signed(change: float, bound: float) -> bool:
    # A positive bound watches for a rise of at least that much, a negative one for a fall.
    return change >= bound if bound > 0 else change <= bound


def change(current: float, previous: float, bound: float) -> Observation:
    """Breach when current - previous rises to (or falls to) the signed bound."""
    delta = current - previous
    return Observation(delta, bound, _signed(delta, bound), f"{previous:g} → {current:g}")


def change_pct(current: float, previous: float, bound: float) -> Observation:
    """Breach when the change in percent of the previous window reaches the signed bound.

    An empty previous window: no change if the current one is empty too, otherwise an
    unbounded rise (fires on a positive bound only).
    """
    if previous == 0:
        if current == 0:
            return Observation(0.0, bound, breached=False, note="both windows empty")
        return Observation(None, bound, bound > 0, f"0 → {current:g} (previous window empty)")
    pct = (current - previous) / previous * 100.0
    return Observation(pct, bound, _signed(pct, bound), f"{previous:g} → {current:g}")


def anomaly(current: float, history: list[float], bound: float, direction: str) -> Observation:
    """Breach when the z-score of `current` against `history` reaches `bound` in `direction`.

    The standard deviation is the population one; a flat history makes any other value an
    unbounded z-score.
    """
    n = len(history)
    mean = sum(history) / n if n else 0.0
    # The population deviation by hand: statistics.pstdev is exact and ~20x slower.
    std = math.sqrt(sum((x - mean) ** 2 for x in history) / n) if n > 1 else 0.0
    if std == 0:
        z = 0.0 if current == mean else math.copysign(math.inf, current - mean)
    else:
        z = (current - mean) / std
    hit = {"up": z >= bound, "down": z <= -bound, "both": abs(z) >= bound}[direction]
    return Observation(_finite(z), bound, hit, f"{current:g} vs mean {mean:g} ± {std:g}")


def observe(
    condition: str,
    windows: list[float],
    bound: float,
    *,
    direction: str = "both",
) -> Observation:
    """Apply `condition` to the windows, newest first (windows[0] is the current one)."""
    current = windows[0]
    if condition == "above":
        return above(current, bound)
    if condition == "below":
        return below(current, bound)
    previous = windows[1] if len(windows) > 1 else 0.0
    if condition == "change":
        return change(current, previous, bound)
    if condition == "change_pct":
        return change_pct(current, previous, bound)
    if condition == "anomaly":
        return anomaly(current, windows[1:], bound, direction)
    raise ValueError(f"unknown condition {condition!r}")
