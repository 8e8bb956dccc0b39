"""The state machine: for, repeat while firing, resolve, mute-independent, error once."""

from __future__ import annotations

from tally.alerts.condition import Observation
from tally.alerts.state import Current, Notify, Policy, State, advance, failed

BREACH = Observation(10.0, 5.0, breached=True)
CLEAR = Observation(1.0, 5.0, breached=False)


def run(seen: list[Observation], policy: Policy, step_s: float = 60.0) -> list[tuple[str, str]]:
    state, out = Current(), []
    for i, obs in enumerate(seen):
        step = advance(state, obs, policy, 1000.0 + i * step_s)
        out.append((step.after.state.value, step.notify.value if step.notify else ""))
        state = step.after
    return out


def test_for_one_fires_on_the_first_breach_and_resolves_on_the_first_clear() -> None:
    assert run([BREACH, BREACH, CLEAR, CLEAR], Policy(for_count=1)) == [
        ("firing", "firing"), ("firing", ""), ("resolved", "resolved"), ("resolved", ""),
    ]  # fmt: skip


def test_for_three_waits_in_pending_and_a_clear_breach_resets_it() -> None:
    seen = [BREACH, BREACH, CLEAR, BREACH, BREACH, BREACH]
    assert run(seen, Policy(for_count=3)) == [
        ("pending", ""), ("pending", ""), ("ok", ""),
        ("pending", ""), ("pending", ""), ("firing", "firing"),
    ]  # fmt: skip


def test_repeat_interval_renotifies_while_firing() -> None:
    # Evaluations every 60 s, repeat every 150 s: notified at t=0, then t=180, t=360
    out = run([BREACH] * 7, Policy(repeat_interval_s=150), step_s=60)
    assert [n for _, n in out] == ["firing", "", "", "repeat", "", "", "repeat"]


def test_no_resolve_notification_when_not_asked() -> None:
    out = run([BREACH, CLEAR], Policy(notify_resolved=False))
    assert out == [("firing", "firing"), ("resolved", "")]


def test_error_is_notified_once_and_recovers_to_ok() -> None:
    first = failed(Current(), 10.0)
    assert first.after.state is State.ERROR
    assert first.notify is Notify.ERROR
    again = failed(first.after, 20.0)
    assert again.notify is None
    assert not again.changed
    back = advance(again.after, CLEAR, Policy(), 30.0)
    assert back.after.state is State.OK
    assert back.changed
