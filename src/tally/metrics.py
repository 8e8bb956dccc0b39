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
BREAKER_STATE = Gauge(
    "tally_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open", ["breaker"]
)

# Jobs (SPEC §7). Labels are the task and its queue, never a job id: bounded cardinality.
JOBS = Counter(
    "tally_jobs_total",
    "Job state changes: started, succeeded, failed, retried, aborted, deferred, requeued",
    ["task", "queue", "state"],
)
JOB_DURATION = Histogram(
    "tally_job_duration_seconds",
    "Run time of finished jobs (succeeded or failed), per task",
    ["task", "queue"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800),
)
# Queue depths, running jobs, workers and the buffer are read at scrape time
# (tally.runtime.metrics.StateCollector).

# Flush and analytics.
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
ANALYTICS_DURATION = Histogram(
    "tally_analytics_run_seconds",
    "Run time of analytics runs, by outcome",
    ["status"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
ANALYTICS_LAST_SUCCESS = Gauge(
    "tally_analytics_last_success_timestamp_seconds", "When the last successful run finished"
)
