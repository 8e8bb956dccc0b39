"""Redis Streams buffer: a consumer group, ack after store, re-claim of abandoned entries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.exceptions import ResponseError

from tally import keys
from tally.buffer.base import CHUNK_EVENTS, Batch, EventBuffer, FlushLock, chunked
from tally.errors import BufferUnavailable
from tally.infra.redis import RedisLease, redis_errors

T = TypeVar("T")

# Ack, delete (keeps the stream bounded by what is not yet stored) and count down, in one
# atomic step; only entries this call really acknowledged are counted, so the event
# counter stays exact even if two flushers ever ack the same entry.
_ACK = """
local done = 0
for i = 2, #ARGV, 2 do
  if redis.call('xack', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('xdel', KEYS[1], ARGV[i])
    done = done + tonumber(ARGV[i + 1])
  end
end
if done > 0 then redis.call('decrby', KEYS[2], done) end
return done
"""


def guard(fn: Callable[[], T]) -> T:
    """Run a buffer call; Redis errors become BufferUnavailable (503 at the API)."""
    with redis_errors("event buffer", BufferUnavailable):
        return fn()


class _RedisLock(FlushLock):
    def __init__(self, lease: RedisLease) -> None:
        self._lease = lease

    def refresh(self) -> bool:
        return self._lease.refresh()

    def release(self) -> None:
        self._lease.release()


class RedisStreamBuffer(EventBuffer):
    """Events in a Redis Stream; a counter tracks events, since an entry holds a chunk."""

    kind = "redis"

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._group_ready = False
        self._ack_script = client.register_script(_ACK)

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From id 0, so entries written before the group existed are consumed too.
            self._r.xgroup_create(keys.EVENTS_STREAM, keys.EVENTS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _with_group(self, fn: Callable[[], T]) -> T:
        def run() -> T:
            self._ensure_group()
            try:
                return fn()
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # Redis lost the group (restart without persistence): create it and go on.
                self._group_ready = False
                self._ensure_group()
                return fn()

        return guard(run)

    def append(self, lines: list[bytes]) -> None:
        if not lines:
            return

        def run() -> None:
            # MULTI/EXEC: all chunks and the counter land together, or nothing does.
            pipe = self._r.pipeline(transaction=True)
            total = 0
            for count, payload in chunked(lines):
                pipe.xadd(keys.EVENTS_STREAM, {"n": count, "d": payload})
                total += count
            pipe.incrby(keys.EVENTS_PENDING_COUNT, total)
            pipe.execute()

        guard(run)

    def size(self) -> int:
        value = guard(lambda: self._r.get(keys.EVENTS_PENDING_COUNT))
        return max(0, int(value)) if value else 0

    def oldest_age_s(self) -> float | None:
        first = guard(lambda: self._r.xrange(keys.EVENTS_STREAM, count=1))
        if not first:
            return None
        raw_id = first[0][0]
        entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        return max(0.0, time.time() - int(entry_id.split("-")[0]) / 1000)

    @staticmethod
    def _collect(batch: Batch, entries: list[Any]) -> None:
        for entry_id, fields in entries:
            if not fields:  # entry deleted after it was read: nothing left to store
                batch.add(entry_id.decode(), 0, None)
            else:
                batch.add(entry_id.decode(), int(fields[b"n"]), fields[b"d"])

    def reclaim(self, consumer: str, max_events: int) -> Batch:
        batch = Batch(reclaimed=True)

        def run() -> Batch:
            start = "0-0"
            while batch.events < max_events:
                count = max(1, (max_events - batch.events) // CHUNK_EVENTS)
                # min_idle 0: the caller holds the flush lease, so every pending entry
                # belongs to a flusher that is gone.
                reply: Any = self._r.xautoclaim(
                    keys.EVENTS_STREAM, keys.EVENTS_GROUP, consumer, 0, start, count=count
                )
                start, entries = reply[0], reply[1]
                self._collect(batch, entries)
                if start in (b"0-0", "0-0"):
                    break
            return batch

        return self._with_group(run)

    def read(self, consumer: str, max_events: int) -> Batch:
        batch = Batch()

        def run() -> Batch:
            per_entry = CHUNK_EVENTS
            while batch.events < max_events:
                count = max(1, (max_events - batch.events) // per_entry)
                reply: Any = self._r.xreadgroup(
                    keys.EVENTS_GROUP, consumer, {keys.EVENTS_STREAM: ">"}, count=count
                )
                entries = reply[0][1] if reply else []
                if not entries:
                    break
                before = batch.events
                self._collect(batch, entries)
                # Adapt to what entries really hold (one-event SDK entries vs full chunks).
                per_entry = max(1, (batch.events - before) // len(entries))
            return batch

        return self._with_group(run)

    def ack(self, batch: Batch) -> None:
        if not batch.entry_ids:
            return

        args: list[str | int] = [keys.EVENTS_GROUP]
        for entry_id, events in zip(batch.entry_ids, batch.entry_events, strict=True):
            args += [entry_id, events]
        keys_ = [keys.EVENTS_STREAM, keys.EVENTS_PENDING_COUNT]
        guard(lambda: self._ack_script(keys=keys_, args=args))

    def acquire_flush_lock(self, ttl_s: float) -> FlushLock | None:
        lease = RedisLease(self._r, keys.FLUSH_LOCK, ttl_s)
        return _RedisLock(lease) if lease.acquire() else None

    def request_flush(self, debounce_s: float) -> bool:
        return bool(
            guard(
                lambda: self._r.set(keys.FLUSH_REQUESTED, b"1", nx=True, px=int(debounce_s * 1000))
            )
        )

    def clear_flush_request(self) -> None:
        guard(lambda: self._r.delete(keys.FLUSH_REQUESTED))

    def memory_bytes(self) -> int | None:
        # MEMORY USAGE samples a few entries (its default 5) and extrapolates: cheap at scrape.
        used = guard(lambda: self._r.memory_usage(keys.EVENTS_STREAM))
        return None if used is None else int(used)

    def ping(self) -> bool:
        try:
            return bool(guard(self._r.ping))
        except BufferUnavailable:
            return False

    def close(self) -> None:
        self._r.close()
