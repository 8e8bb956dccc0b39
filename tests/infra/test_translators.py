"""One translator per foreign library: with its service stopped, every adapter raises Tally's
error (not redis-py's, not clickhouse-connect's or chDB's, not SQLAlchemy's)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from tally.analytics.publish import Publication, read_metadata
from tally.buffer.redis import RedisStreamBuffer
from tally.cache.redis import RedisCache
from tally.errors import StoreError, StoreUnavailable, TallyError, UnavailableError
from tally.infra.breakers import Breakers, specs
from tally.infra.metadb.db import MetadataDB, database_url
from tally.infra.redis import RedisLease, connect
from tally.ingest.ratelimit import RateLimiter
from tally.jobs.base import Retention
from tally.jobs.record import JobRecord
from tally.jobs.redis import RedisJobIndex
from tally.queue.inspect import Inspector, broker_depths, workers_seen
from tally.settings import Settings
from tally.store.chdb import ChdbStore
from tally.store.clickhouse import ClickHouseStore
from tally.store.sql import Names
from tests.conftest import free_port


@pytest.fixture
def dead_redis() -> redis.Redis:
    """A client for a Redis that is not there: a free loopback port nobody listens on."""
    return connect(f"redis://127.0.0.1:{free_port()}/0", 0.5)


def _redis_calls(client: redis.Redis) -> dict[str, Callable[[], Any]]:
    index = RedisJobIndex(client, Retention(60, 10))
    buffer = RedisStreamBuffer(client)
    return {
        "buffer append": lambda: buffer.append([b"{}"]),
        "buffer size": buffer.size,
        "buffer flush lock": lambda: buffer.acquire_flush_lock(5),
        "result cache": lambda: read_metadata(Publication(RedisCache(client))),
        "job index create": lambda: index.create(JobRecord("j1", "t", "default")),
        "job index get": lambda: index.get("j1"),
        "breakers": lambda: Breakers(client, specs({})).states(),
        "breaker guard": lambda: Breakers(client, specs({})).guard("dbt").__enter__(),
        "lease": lambda: RedisLease(client, "k", 5).acquire(),
        "rate limit": lambda: RateLimiter(10, client).take("someone", 1),
        "heartbeats": lambda: workers_seen(client),
        "broker depths": lambda: broker_depths(client, ["default"]),
        "queues": lambda: Inspector(Settings(), index, client).queues(),
    }


@pytest.mark.parametrize("what", list(_redis_calls(connect("redis://127.0.0.1:1/0", 0.5))))
def test_every_redis_adapter_raises_tallys_error_when_redis_is_down(
    what: str, dead_redis: redis.Redis
) -> None:
    # When the adapter is called with Redis stopped
    with pytest.raises(TallyError) as raised:
        _redis_calls(dead_redis)[what]()
    # Then it is Tally's error naming Redis, never redis-py's
    assert isinstance(raised.value, UnavailableError)
    assert raised.value.service in ("redis", "broker")
    assert not isinstance(raised.value, redis.RedisError)


def test_the_metadata_db_raises_tallys_error_when_postgresql_is_down(tmp_path: Path) -> None:
    db = MetadataDB(database_url(f"postgresql://u:secret-pw@127.0.0.1:{free_port()}/x", tmp_path))
    with pytest.raises(UnavailableError) as raised, db.session() as session:
        session.execute(__import__("sqlalchemy").text("SELECT 1"))
    assert raised.value.service == "metadata_db"
    assert "secret-pw" not in str(raised.value)
    db.close()


def test_a_clickhouse_server_that_is_down_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        ClickHouseStore(f"http://127.0.0.1:{free_port()}", Names("analytics", "e"), 90)


def test_chdb_errors_are_store_errors(tmp_path: Path) -> None:
    store = ChdbStore(tmp_path / "chdb", Names("analytics", "user_events"), 90)
    try:
        with pytest.raises(StoreError) as raised:
            store.query("SELECT * FROM no_such_table")
        assert type(raised.value) is StoreError
        assert "no_such_table" in str(raised.value)
        with pytest.raises(StoreError):
            store.insert_ndjson(b'{"not": "an event"}', 0)
    finally:
        store.close()
