"""Per-token ingest rate limit, on Redis (shared by API processes) and in-process."""

from __future__ import annotations

import pytest
import redis

from tally.errors import RateLimited
from tally.ingest.ratelimit import RateLimiter, token_id


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["redis", "memory"])
def client(request: pytest.FixtureRequest) -> redis.Redis | None:
    if request.param == "memory":
        return None
    fixture: redis.Redis = request.getfixturevalue("redis_client")
    return fixture


def test_a_token_past_its_events_per_second_waits_for_the_next_second(
    client: redis.Redis | None,
) -> None:
    # Given a limit of 100 events per second, 0.25 s into a second
    clock = Clock(1_000.25)
    limiter = RateLimiter(100, client, clock)
    alice, bob = token_id("alice-secret"), token_id("bob-secret")
    # When alice sends 60 then 40 events, then one more
    limiter.take(alice, 60)
    limiter.take(alice, 40)
    with pytest.raises(RateLimited) as refused:
        limiter.take(alice, 1)
    # Then she is told to retry when the second ends; bob is not affected
    assert refused.value.retry_after_s == 1
    limiter.take(bob, 100)
    # And in the next second alice may send again
    clock.now = 1_001.0
    limiter.take(alice, 100)


def test_redis_counters_expire_and_never_hold_the_token(redis_client: redis.Redis) -> None:
    RateLimiter(10, redis_client).take(token_id("s3cr3t-token"), 3)
    names = [
        k.decode() if isinstance(k, bytes) else k for k in redis_client.keys("tally:ratelimit:*")
    ]
    assert len(names) == 1
    assert "s3cr3t" not in names[0]
    assert 0 < redis_client.ttl(names[0]) <= 2


def test_zero_turns_the_limit_off() -> None:
    RateLimiter(0, None).take("anyone", 10**9)
