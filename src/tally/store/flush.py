"""Drain the buffer into the store: read a batch, insert it idempotently, then acknowledge."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import Histogram

from tally.buffer.base import Batch, EventBuffer
from tally.infra import faults
from tally.store.base import Store

log = logging.getLogger("tally.flush")

FLUSH_BATCH_EVENTS = Histogram(
    "tally_flush_batch_events",
    "Events per flushed batch",
    buckets=(1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000),
)
FLUSH_DURATION = Histogram(
    "tally_flush_duration_seconds",
    "Run time of flushes that stored something",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60),
)
FLUSH_LAG = Histogram(
    "tally_flush_lag_seconds",
    "Age of the oldest waiting event when a flush starts (how far the store lags ingest)",
    buckets=(0.1, 1, 5, 10, 30, 60, 300, 900, 3600),
)


@dataclass(slots=True)
class FlushReport:
    """What one flush did."""

    status: str = "ok"
    batches: int = 0
    events_read: int = 0
    rows_written: int = 0
    reclaimed_events: int = 0
    remaining: int = 0
    duration_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (it is the flush task's result)."""
        return asdict(self)


def consumer_name() -> str:
    """This process's name in the consumer group."""
    return f"{socket.gethostname()}-{os.getpid()}"


def flush(
    buffer: EventBuffer,
    store: Store,
    *,
    batch_size: int,
    dedup_window_s: int,
    lock_ttl_s: float,
    max_duration_s: float,
    progress: Callable[[int, str], None] | None = None,
) -> FlushReport:
    """Store what waits in the buffer, batch by batch, until it is empty or time runs out.

    Safe to run twice, to crash anywhere and to run again: a batch is acknowledged only
    after the store has it, and the insert skips event_ids it already holds.
    """
    started = time.monotonic()
    report = FlushReport()
    lock = buffer.acquire_flush_lock(lock_ttl_s)
    if lock is None:
        report.status = "skipped: another flush holds the lease"
        return report
    consumer = consumer_name()
    # One read ahead: the next batch comes from the buffer while the store inserts this one
    # (Redis I/O and the insert overlap; ~1.2x in bench/ingest.py). A read-ahead batch left
    # unacknowledged when the flush stops is re-claimed by the next flush, like a crash's.
    reader = ThreadPoolExecutor(1, thread_name_prefix="tally-flush-read")
    try:
        buffer.clear_flush_request()
        target = max(1, buffer.size())
        lag_s = buffer.oldest_age_s()
        if lag_s is not None:
            FLUSH_LAG.observe(lag_s)
        # Entries a dead flusher read and never acknowledged come first.
        batch = buffer.reclaim(consumer, batch_size)
        report.reclaimed_events = batch.events
        if batch.entry_ids:
            log.warning("re-claimed %d events left pending by a dead flusher", batch.events)
        else:
            batch = buffer.read(consumer, batch_size)
        while batch.entry_ids:
            ahead = reader.submit(buffer.read, consumer, batch_size)
            _store_batch(batch, buffer, store, dedup_window_s, report)
            batch = ahead.result()
            if progress is not None:
                pct = min(99, int(100 * report.events_read / target))
                progress(pct, f"{report.events_read} events stored")
            if not lock.refresh():
                report.status = "stopped: lost the flush lease"
                break
            if time.monotonic() - started > max_duration_s:
                report.status = "partial: time budget used, more remains"
                break
    finally:
        reader.shutdown(wait=True)
        lock.release()
    report.remaining = buffer.size()
    report.duration_ms = int((time.monotonic() - started) * 1000)
    if report.events_read:
        FLUSH_DURATION.observe(report.duration_ms / 1000)
    # An empty scheduled flush is routine: not worth a line at INFO every minute.
    log.log(
        logging.INFO if report.events_read or report.reclaimed_events else logging.DEBUG,
        "flush %s: %d events in %d batches, %d rows written, %d remaining, %d ms",
        report.status,
        report.events_read,
        report.batches,
        report.rows_written,
        report.remaining,
        report.duration_ms,
        extra={"event": "flush", **report.as_dict()},
    )
    return report


def _store_batch(
    batch: Batch, buffer: EventBuffer, store: Store, dedup_window_s: int, report: FlushReport
) -> None:
    if batch.chunks:
        report.rows_written += store.insert_ndjson(batch.ndjson(), dedup_window_s)
    faults.hit("flush.after_insert")  # chaos tests: stored but not acknowledged
    buffer.ack(batch)
    FLUSH_BATCH_EVENTS.observe(batch.events)
    report.batches += 1
    report.events_read += batch.events
