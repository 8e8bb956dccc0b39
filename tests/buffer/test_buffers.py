"""The buffer contract, run against the Redis Stream and the in-memory buffer alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tally import keys
from tally.buffer.base import CHUNK_EVENTS, EventBuffer
from tally.buffer.memory import MemoryBuffer
from tally.buffer.redis import RedisStreamBuffer
from tally.errors import BufferUnavailable
from tally.infra.redis import connect


@pytest.fixture(params=["memory", "redis"])
def buffer(request: pytest.FixtureRequest) -> Iterator[EventBuffer]:
    if request.param == "memory":
        yield MemoryBuffer()
        return
    url: str = request.getfixturevalue("redis_url")
    buf = RedisStreamBuffer(connect(url, 2.0))
    yield buf
    buf.close()


def lines(n: int, tag: str = "e") -> list[bytes]:
    return [f'{{"n":"{tag}{i}"}}'.encode() for i in range(n)]


def test_append_counts_events_not_entries(buffer: EventBuffer) -> None:
    buffer.append(lines(CHUNK_EVENTS * 2 + 7))
    buffer.append(lines(1))
    assert buffer.size() == CHUNK_EVENTS * 2 + 8
    age = buffer.oldest_age_s()
    assert age is not None
    assert age >= 0


def test_read_hands_out_about_max_events_and_never_splits_an_entry(buffer: EventBuffer) -> None:
    buffer.append(lines(1200))  # entries of 500, 500, 200
    batch = buffer.read("c1", max_events=600)
    assert batch.events == 1000  # the second entry is taken whole
    assert len(batch.ndjson().split(b"\n")) == 1000
    rest = buffer.read("c1", max_events=600)
    assert rest.events == 200
    assert buffer.read("c1", max_events=600).entry_ids == []


def test_many_small_entries_are_read_in_one_batch(buffer: EventBuffer) -> None:
    for i in range(300):  # SDK style: one event per entry
        buffer.append(lines(1, tag=f"s{i}-"))
    batch = buffer.read("c1", max_events=250)
    assert batch.events == 250


def test_ack_forgets_entries_and_size_drops(buffer: EventBuffer) -> None:
    buffer.append(lines(10))
    batch = buffer.read("c1", max_events=100)
    assert buffer.size() == 10  # handed out is still waiting until acknowledged
    buffer.ack(batch)
    assert buffer.size() == 0
    assert buffer.oldest_age_s() is None
    buffer.ack(batch)  # acknowledging twice changes nothing
    assert buffer.size() == 0


def test_unacknowledged_entries_are_reclaimed_by_the_next_flusher(buffer: EventBuffer) -> None:
    # Given a flusher that read a batch and died before acknowledging it
    buffer.append(lines(3, tag="a"))
    dead = buffer.read("dead-flusher", max_events=100)
    buffer.append(lines(2, tag="b"))
    # When the next flusher re-claims
    again = buffer.reclaim("next-flusher", max_events=100)
    # Then it gets exactly the dead one's entries, and new reads get only the new ones
    assert again.entry_ids == dead.entry_ids
    assert again.ndjson() == dead.ndjson()
    assert buffer.read("next-flusher", max_events=100).events == 2


def test_flush_lock_is_exclusive(buffer: EventBuffer) -> None:
    first = buffer.acquire_flush_lock(ttl_s=30)
    assert first is not None
    assert buffer.acquire_flush_lock(ttl_s=30) is None
    first.release()
    again = buffer.acquire_flush_lock(ttl_s=30)
    assert again is not None
    again.release()


def test_flush_request_is_debounced(buffer: EventBuffer) -> None:
    assert buffer.request_flush(debounce_s=30) is True
    assert buffer.request_flush(debounce_s=30) is False
    buffer.clear_flush_request()
    assert buffer.request_flush(debounce_s=30) is True


def test_redis_lease_expires_when_its_holder_dies(redis_url: str) -> None:
    buf = RedisStreamBuffer(connect(redis_url, 2.0))
    assert buf.acquire_flush_lock(ttl_s=0.2) is not None  # never released: holder "died"
    assert buf.acquire_flush_lock(ttl_s=0.2) is None
    import time

    time.sleep(0.3)
    assert buf.acquire_flush_lock(ttl_s=0.2) is not None


def test_redis_append_is_all_or_nothing_and_counted(
    redis_url: str, redis_client: redis.Redis
) -> None:
    buf = RedisStreamBuffer(connect(redis_url, 2.0))
    buf.append(lines(1001))
    assert redis_client.xlen(keys.EVENTS_STREAM) == 3
    assert int(redis_client.get(keys.EVENTS_PENDING_COUNT) or 0) == 1001


def test_redis_group_is_recreated_if_redis_lost_it(
    redis_url: str, redis_client: redis.Redis
) -> None:
    buf = RedisStreamBuffer(connect(redis_url, 2.0))
    buf.append(lines(5))
    buf.read("c", 10)
    redis_client.xgroup_destroy(keys.EVENTS_STREAM, keys.EVENTS_GROUP)
    # the group is recreated from id 0: the entries are handed out again, not lost
    assert buf.read("c", 10).events == 5


def test_redis_down_is_a_clear_unavailable_error() -> None:
    from tests.conftest import free_port

    buf = RedisStreamBuffer(connect(f"redis://127.0.0.1:{free_port()}/0", 0.5))
    with pytest.raises(BufferUnavailable) as exc:
        buf.append(lines(1))
    assert "Redis" in str(exc.value)
    assert buf.ping() is False
