"""Flush: buffer to store, exactly once, across crashes between insert and acknowledgement."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tally.buffer.base import EventBuffer
from tally.buffer.memory import MemoryBuffer
from tally.buffer.redis import RedisStreamBuffer
from tally.events.accept import AcceptOptions, accept
from tally.infra.redis import connect
from tally.store.base import Store
from tally.store.flush import flush


@pytest.fixture(params=["memory", "redis"])
def buffer(request: pytest.FixtureRequest) -> Iterator[EventBuffer]:
    if request.param == "memory":
        yield MemoryBuffer()
        return
    buf = RedisStreamBuffer(connect(request.getfixturevalue("redis_url"), 2.0))
    yield buf
    buf.close()


def encoded(n: int) -> list[bytes]:
    items = [
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "video_view",
            "created_at": datetime.now(UTC).isoformat(),
        }
        for _ in range(n)
    ]
    return accept(items, AcceptOptions()).lines


def run_flush(buffer: EventBuffer, store: Store, batch_size: int = 1000) -> dict[str, object]:
    return flush(
        buffer,
        store,
        batch_size=batch_size,
        dedup_window_s=3600,
        lock_ttl_s=10,
        max_duration_s=60,
    ).as_dict()


def test_flush_drains_the_buffer_in_batches(buffer: EventBuffer, store: Store) -> None:
    buffer.append(encoded(3500))
    report = run_flush(buffer, store, batch_size=1000)
    assert report["events_read"] == 3500
    assert report["batches"] == 4
    assert report["remaining"] == 0
    assert store.stats().events == 3500


def test_crash_after_insert_before_ack_is_stored_once(buffer: EventBuffer, store: Store) -> None:
    # Given a flusher that inserted a batch and died before acknowledging it
    buffer.append(encoded(800))
    dead = buffer.read("dead", 10_000)
    store.insert_ndjson(dead.ndjson(), dedup_window_s=3600)
    buffer.append(encoded(200))
    # When the next flush runs
    report = run_flush(buffer, store)
    # Then it re-claims the dead batch, writes only the new events, and empties the buffer
    assert report["reclaimed_events"] == 800
    assert report["rows_written"] == 200
    assert buffer.size() == 0
    assert store.stats().events == 1000


def test_a_second_flush_while_one_runs_is_skipped(buffer: EventBuffer, store: Store) -> None:
    lock = buffer.acquire_flush_lock(10)
    assert lock is not None
    buffer.append(encoded(10))
    assert str(run_flush(buffer, store)["status"]).startswith("skipped")
    lock.release()
    assert run_flush(buffer, store)["events_read"] == 10


def test_flush_of_an_empty_buffer_is_a_no_op(buffer: EventBuffer, store: Store) -> None:
    report = run_flush(buffer, store)
    assert (report["status"], report["events_read"]) == ("ok", 0)
