"""Circuit breakers: shared through Redis by every process, or in-process in embedded mode."""

from __future__ import annotations

import time

import pytest
import redis

from tally.errors import BreakerOpen, ConfigError, ValidationFailed
from tally.infra.breakers import Breakers, specs

FAST = {"external_api": {"fail_max": 3, "reset_timeout_s": 2}}


def fail(breakers: Breakers, name: str = "external_api") -> None:
    # The block's own error comes out, also when it is the one that opens the breaker.
    with pytest.raises(ConnectionError), breakers.guard(name):
        raise ConnectionError("down")


def state(breakers: Breakers, name: str = "external_api") -> dict[str, object]:
    return next(b for b in breakers.states() if b["name"] == name)


def test_two_processes_views_share_one_breaker(redis_client: redis.Redis) -> None:
    # Given two processes' views of the same Redis (each its own Breakers and pybreaker)
    a, b = Breakers(redis_client, specs(FAST)), Breakers(redis_client, specs(FAST))
    # When A fails twice and B once
    fail(a)
    fail(a)
    assert state(b)["state"] == "closed"
    assert state(b)["failures"] == 2
    fail(b)
    # Then both see it open, and both refuse calls without running them
    assert state(a)["state"] == state(b)["state"] == "open"
    ran = []
    with pytest.raises(BreakerOpen) as refused, a.guard("external_api"):
        ran.append(1)
    assert ran == []
    assert 0 < refused.value.retry_after_s <= 2
    with pytest.raises(BreakerOpen):
        b.check("external_api")
    # When the reset timeout has passed, a trial call through B succeeds
    time.sleep(2.1)
    b.check("external_api")  # no longer refuses: a trial may go through
    with b.guard("external_api"):
        pass
    # Then it is closed for A too, with no failures counted
    assert state(a)["state"] == "closed"
    assert state(a)["failures"] == 0


def test_a_failed_trial_opens_it_again(redis_client: redis.Redis) -> None:
    breakers = Breakers(redis_client, specs(FAST))
    for _ in range(3):
        fail(breakers)
    time.sleep(2.1)
    fail(breakers)  # the half-open trial fails
    assert state(breakers)["state"] == "open"


def test_a_caller_mistake_is_not_a_failure_and_success_resets() -> None:
    # Given the in-process breakers of embedded mode, two failures away from opening
    breakers = Breakers(None, specs(FAST))
    fail(breakers)
    fail(breakers)
    # When the guarded call raises the caller's own error (bad input)
    with pytest.raises(ValidationFailed), breakers.guard("external_api"):
        raise ValidationFailed("x", "invalid_field", "bad")
    # Then the service answered: the run of failures starts again, and it stays closed
    assert state(breakers)["failures"] == 0
    fail(breakers)
    fail(breakers)
    assert state(breakers)["state"] == "closed"
    fail(breakers)
    assert state(breakers)["state"] == "open"


def test_defaults_overrides_and_unknown_names() -> None:
    by_name = {s.name: s for s in specs({"dbt": {"fail_max": 7}, "payments": {}})}
    assert (by_name["database"].fail_max, by_name["database"].reset_timeout_s) == (5, 60)
    assert (by_name["dbt"].fail_max, by_name["dbt"].reset_timeout_s) == (7, 120)
    assert (by_name["external_api"].fail_max, by_name["external_api"].reset_timeout_s) == (3, 120)
    assert "payments" in by_name
    with pytest.raises(ConfigError, match=r"TALLY_BREAKERS\.dbt"):
        specs({"dbt": {"fail_maximum": 1}})
    with pytest.raises(ConfigError, match="unknown circuit breaker 'nope'"):
        Breakers(None, specs({})).check("nope")
