"""Prometheus metrics Tally's processes expose."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_ACCEPTED = Counter("tally_events_accepted_total", "Events accepted into the buffer")
EVENTS_REJECTED = Counter(
    "tally_events_rejected_total", "Events rejected at ingest, by reason", ["reason"]
)
FLUSH_BATCH_EVENTS = Histogram(
    "tally_flush_batch_events",
    "Events per flushed batch",
    buckets=(1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000),
)
BUFFER_EVENTS = Gauge("tally_buffer_events", "Events waiting in the buffer")
BUFFER_OLDEST_AGE = Gauge("tally_buffer_oldest_age_seconds", "Age of the oldest buffered event")
BREAKER_STATE = Gauge(
    "tally_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open", ["breaker"]
)
