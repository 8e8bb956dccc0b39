"""Never acknowledge what Redis may throw away: eviction policy, a full Redis, persistence.

Every test runs its own redis-server on a free port with the settings under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from tally.buffer.redis import RedisStreamBuffer
from tally.errors import PersistenceRequired, RedisFull, RedisMayEvict
from tally.infra.redis_policy import PolicyGuard, read_policy
from tally.store.chdb import ChdbStore
from tally.store.flush import flush
from tally.store.sql import Names
from tests.conftest import Proc, RedisServer, api_client, clean_env, free_port, wait_http
from tests.conftest import wait_until as wait_for
from tests.http_events import make_events


def _server(tmp_path: Path, name: str, *flags: str, aof: bool = False) -> RedisServer:
    server = RedisServer(tmp_path / name, *flags, aof=aof)
    server.start()
    return server


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    started: list[RedisServer] = []

    def start(name: str, *flags: str, aof: bool = False) -> RedisServer:
        server = _server(tmp_path, name, *flags, aof=aof)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def _guard(server: RedisServer, **flags: bool) -> PolicyGuard:
    opts = {"allow_evicting": False, "require_persistence": False} | flags
    guard = PolicyGuard(server.client(), check_s=60, **opts)
    guard.refresh()
    return guard


def test_the_policy_is_read_from_config_or_from_info_when_config_is_disabled(
    servers: Callable[..., RedisServer],
) -> None:
    # Given one Redis with CONFIG and one without it (as on managed Redis), both evicting
    plain = servers("plain", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    managed = servers(
        "managed", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru",
        "--rename-command", "CONFIG", "",
    )  # fmt: skip
    # Then both say what the policy is; the one without CONFIG through INFO
    a, b = read_policy(plain.client()), read_policy(managed.client())
    assert (a.maxmemory_policy, a.maxmemory_bytes, a.source) == ("allkeys-lru", 64 << 20, "CONFIG")
    assert (b.maxmemory_policy, b.maxmemory_bytes, b.source) == ("allkeys-lru", 64 << 20, "INFO")
    assert a.may_evict
    assert b.may_evict
    assert "no AOF and no RDB" in a.persistence()


def test_the_guard_refuses_evicting_and_unpersisted_redis_unless_told(
    servers: Callable[..., RedisServer],
) -> None:
    lru = servers("lru", "--maxmemory-policy", "allkeys-lru")
    volatile = servers("volatile", "--maxmemory-policy", "volatile-lru")
    aof = servers("aof", aof=True)
    with pytest.raises(RedisMayEvict, match="TALLY_ALLOW_EVICTING_REDIS"):
        _guard(lru).check_ingest()
    _guard(lru, allow_evicting=True).check_ingest()  # the documented opt-out
    _guard(volatile).check_ingest()  # the stream has no TTL: volatile-* cannot evict it
    with pytest.raises(PersistenceRequired):
        _guard(volatile, require_persistence=True).check_ingest()
    _guard(aof, require_persistence=True).check_ingest()
    policy = read_policy(aof.client())
    assert (policy.aof, policy.appendfsync) == (True, "always")
    assert policy.persistence() == "AOF on (appendfsync always): a crash loses nothing"


def _api(
    procs: Callable[..., Proc], server: RedisServer, tmp_path: Path, **extra: str
) -> tuple[Proc, httpx.Client]:
    port = free_port()
    env = clean_env(REDIS_URL=server.url(), TALLY_DATA_DIR=str(tmp_path / "data"), **extra)
    proc = procs("api", "--port", str(port), env=env, name="api")
    wait_http(f"http://127.0.0.1:{port}/api/v1/health", proc=proc)
    return proc, api_client(f"http://127.0.0.1:{port}", timeout=30)


@pytest.mark.slow
def test_an_evicting_redis_is_refused_before_any_event_is_accepted(
    servers: Callable[..., RedisServer], tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given seed 003's documented Redis settings, with a small limit
    server = servers("lru", "--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru")
    proc, client = _api(procs, server, tmp_path)
    with client:
        # When events are posted
        r = client.post("/api/v1/events", json=make_events(100))
        # Then they are refused, naming the setting and the fix, and nothing is buffered
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["reason"] == "redis_may_evict"
        assert "maxmemory-policy" in error["message"]
        assert "noeviction" in error["message"]
        assert int(r.headers["Retry-After"]) >= 1
        assert RedisStreamBuffer(server.client()).size() == 0
        # And health is degraded with the reason; the policy shows there and in metrics
        health = client.get("/api/v1/health")
        assert health.status_code == 503
        assert any("allkeys-lru" in p for p in health.json()["problems"])
        assert health.json()["redis_policy"]["maxmemory_policy"] == "allkeys-lru"
        metrics = client.get("/metrics").text
        assert 'tally_ingest_refused_total{reason="redis_may_evict"} 1.0' in metrics
        assert 'tally_redis_eviction_safe{policy="allkeys-lru"} 0.0' in metrics
    assert "may evict the event buffer" in proc.output()


@pytest.mark.slow
def test_the_opt_out_accepts_events_and_says_so_at_start(
    servers: Callable[..., RedisServer], tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    server = servers("lru", "--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru")
    proc, client = _api(procs, server, tmp_path, TALLY_ALLOW_EVICTING_REDIS="true")
    with client:
        events = make_events(50)
        r = client.post("/api/v1/events", json=events)
        assert r.status_code == 200, r.text
        # The buffer's size in Redis is a gauge
        assert "tally_buffer_bytes " in client.get("/metrics").text
    # No acknowledged event is missing from the buffer (nothing was evicted at this size)
    assert _buffered_ids(server) == {e["event_id"] for e in events}
    assert "accepted anyway (TALLY_ALLOW_EVICTING_REDIS)" in proc.output()


def _buffered_ids(server: RedisServer) -> set[str]:
    ids: set[str] = set()
    entries: Any = server.client().xrange("tally:events:stream")
    for _, fields in entries:
        ids |= {orjson.loads(line)["event_id"] for line in fields[b"d"].splitlines()}
    return ids


@pytest.mark.slow
def test_a_full_redis_is_back_pressure_never_a_500_and_ingest_resumes_after_a_flush(
    servers: Callable[..., RedisServer], tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given a Redis with little memory and the safe policy
    server = servers("small", "--maxmemory", "12mb", "--maxmemory-policy", "noeviction")
    proc, client = _api(procs, server, tmp_path)
    accepted: set[str] = set()
    refused: set[str] = set()
    statuses: list[int] = []
    with client:
        # When batches are posted until Redis fills up
        for _ in range(200):
            batch = make_events(1000)
            r = client.post("/api/v1/events", json=batch)
            statuses.append(r.status_code)
            ids = {e["event_id"] for e in batch}
            if r.status_code == 200:
                accepted |= ids
                continue
            assert r.status_code == 503, r.text
            assert r.json()["error"]["reason"] == "buffer_full"
            assert int(r.headers["Retry-After"]) >= 1
            refused |= ids
            if len(refused) >= 3000:
                break
        # Then no answer was a 500, every accepted batch is in the buffer, no refused one is
        assert 500 not in statuses
        assert refused, "Redis never filled up"
        buffered = _buffered_ids(server)
        assert buffered == accepted
        assert RedisStreamBuffer(server.client()).size() == len(accepted)
        assert any("redis is full" in p for p in client.get("/api/v1/health").json()["problems"])
        print(  # the figures docs/reliability.md quotes
            f"\nFULL accepted={len(accepted)} batches_ok={statuses.count(200)} "
            f"batches_503={statuses.count(503)} "
            f"used={read_policy(server.client()).used_memory_bytes}"
        )

        # When a flush stores the buffer (the headroom left its lease and reads room to work)
        store = ChdbStore(tmp_path / "chdb", Names("analytics", "user_events"), 90)
        store.upgrade()
        report = flush(
            RedisStreamBuffer(server.client()), store, batch_size=100_000, dedup_window_s=3600,
            lock_ttl_s=30, max_duration_s=60,
        )  # fmt: skip
        assert report.events_read == len(accepted)
        assert int(store.query("SELECT count() AS n FROM analytics.user_events")[0]["n"]) == len(
            accepted
        )
        store.close()

        # Then ingest resumes without a restart
        def accepts_again() -> bool:
            return client.post("/api/v1/events", json=make_events(100)).status_code == 200

        wait_for(accepts_again, 15, "ingest to resume after the flush")
    assert "Traceback" not in proc.output()


@pytest.mark.slow
def test_a_policy_changed_at_run_time_refuses_within_the_check_interval(
    servers: Callable[..., RedisServer], tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    server = servers("live", "--maxmemory-policy", "noeviction")
    _, client = _api(procs, server, tmp_path, TALLY_REDIS_POLICY_CHECK_S="1")
    with client:
        assert client.post("/api/v1/events", json=make_events(10)).status_code == 200
        server.client().config_set("maxmemory-policy", "allkeys-lru")

        def refused() -> bool:
            r = client.post("/api/v1/events", json=make_events(10))
            return r.status_code == 503 and r.json()["error"]["reason"] == "redis_may_evict"

        wait_for(refused, 5, "ingest to refuse after the policy changed")


def test_an_oom_error_is_buffer_full_and_nothing_of_the_batch_is_kept(
    servers: Callable[..., RedisServer],
) -> None:
    # Given a Redis already past its limit (the guard is bypassed: the append alone)
    server = servers("oom", "--maxmemory-policy", "noeviction")
    client = server.client()
    buffer = RedisStreamBuffer(client)
    buffer.append([orjson.dumps({"n": i}) for i in range(10)])
    # Then past it: a limit below what is used refuses every write that allocates
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", max(1, used - 200_000))
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        client.set("one-more", b"x")
    before = client.xlen("tally:events:stream")
    counted = buffer.size()
    # When a multi-chunk batch is appended to the full Redis
    with pytest.raises(RedisFull, match="full"):
        buffer.append([orjson.dumps({"n": i}) for i in range(2000)])
    # Then nothing of it was kept: MULTI/EXEC is all or none
    assert client.xlen("tally:events:stream") == before
    assert buffer.size() == counted


def test_the_sdk_surfaces_an_evicting_redis_as_it_surfaces_redis_down(
    servers: Callable[..., RedisServer], tmp_path: Path
) -> None:
    from pydantic import SecretStr

    from tally.errors import BufferUnavailable
    from tally.sdk import Client
    from tally.settings import RedisSettings, Settings, StoreSettings

    server = servers("sdk", "--maxmemory-policy", "allkeys-lru")
    settings = Settings(
        redis=RedisSettings(url=SecretStr(server.url())), store=StoreSettings(data_dir=tmp_path)
    )
    client = Client(settings)
    with pytest.raises(BufferUnavailable) as raised:
        client.track_event("video_view", entity_type="video", entity_id="v1", country="FR")
    assert isinstance(raised.value, RedisMayEvict)
    assert client.get_queue_size() == 0


def test_health_says_full_from_a_refusal_until_an_append_goes_in(
    servers: Callable[..., RedisServer],
) -> None:
    # Given a guard on a Redis with room (its reading alone would say all is well)
    server = servers("sticky", "--maxmemory", "64mb", "--maxmemory-policy", "noeviction")
    guard = _guard(server)
    assert guard.check().problems == ()
    # When Redis refused an append for memory, then health says full
    guard.refused_full()
    assert any("redis is full" in p for p in guard.check().problems)
    # And once an append goes in again, it does not
    guard.wrote([b"{}"])
    assert not any("redis is full" in p for p in guard.check().problems)
