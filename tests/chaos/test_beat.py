"""Two schedulers: each scheduled run fires once, and a standby takes over from a dead leader."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import redis

from tally import keys
from tests.chaos.conftest import report
from tests.conftest import Proc, RedisServer, clean_env, wait_until


def _holder(client: redis.Redis) -> str:
    raw = client.get(keys.BEAT_LEADER_LOCK)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _queued_flushes(client: redis.Redis) -> int:
    return sum(int(client.llen(k)) for k in keys.broker_queue_keys(keys.EVENTS_QUEUE))


def test_two_beats_fire_once_and_a_standby_takes_over(
    private_redis: RedisServer, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given two beat processes flushing every second, and no worker: fired flushes pile up
    client = private_redis.client()
    beats = [
        procs(
            "beat",
            env=clean_env(
                REDIS_URL=private_redis.url(),
                TALLY_DATA_DIR=str(tmp_path / f"beat{i}"),
                TALLY_FLUSH_INTERVAL_S="1",
                TALLY_BEAT_LOCK_TTL_S="3",
            ),
            name=f"beat{i}",
        )
        for i in range(2)
    ]
    wait_until(lambda: _queued_flushes(client) >= 1, 30, "the first scheduled flush")

    # When 6 s pass
    start = _queued_flushes(client)
    time.sleep(6)
    fired = _queued_flushes(client) - start

    # Then one beat fired about once a second, not two
    assert 3 <= fired <= 8, fired

    # When the leader is SIGKILLed
    holder = _holder(client)
    leader = next(b for b in beats if f":{b.pid}:" in holder)
    standby = next(b for b in beats if b is not leader)
    leader.kill()
    killed_at, before = time.monotonic(), _queued_flushes(client)

    # Then the standby takes over within the lease TTL and fires alone
    wait_until(lambda: _queued_flushes(client) > before, 15, "the standby to fire")
    took_over_s = time.monotonic() - killed_at
    assert f":{standby.pid}:" in _holder(client)
    start = _queued_flushes(client)
    time.sleep(4)
    alone = _queued_flushes(client) - start
    report(
        "two beats, then the leader SIGKILLed (lease 3 s, schedule every 1 s)",
        fired_in_6_s_with_two_beats=fired,
        standby_fired_after_kill_s=round(took_over_s, 1),
        fired_in_4_s_by_the_standby=alone,
    )
    assert took_over_s <= 3 + 2
    assert 2 <= alone <= 5, alone
    client.close()
