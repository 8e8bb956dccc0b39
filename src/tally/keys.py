"""Every Redis key and queue name Tally uses, in one place."""

from __future__ import annotations

from typing import Final

# Queues of SPEC §5, with the default concurrency of seed 001 where it gives one.
QUEUES: Final[dict[str, int]] = {
    "events": 2,
    "analytics": 2,
    "dbt": 1,
    "alerts": 4,
    "reports": 2,
    "monitoring": 1,
    "default": 2,
}
DEFAULT_QUEUE: Final = "default"
EVENTS_QUEUE: Final = "events"
ANALYTICS_QUEUE: Final = "analytics"
ALERTS_QUEUE: Final = "alerts"
REPORTS_QUEUE: Final = "reports"
DBT_QUEUE: Final = "dbt"
MONITORING_QUEUE: Final = "monitoring"

PREFIX: Final = "tally"

# Event buffer (a Redis Stream consumed by one consumer group).
EVENTS_STREAM: Final = f"{PREFIX}:events:stream"
EVENTS_GROUP: Final = "tally-flushers"
# Number of events (not stream entries) waiting; an entry holds a chunk of events.
EVENTS_PENDING_COUNT: Final = f"{PREFIX}:events:count"
FLUSH_LOCK: Final = f"{PREFIX}:events:flush-lock"
FLUSH_REQUESTED: Final = f"{PREFIX}:events:flush-requested"


# Ingest rate limit: events counted per token (a hash of it, never the token) per second.
def rate_limit(token_id: str, window: int) -> str:
    """Counter of one token's events in one 1-second window (expires after 2 s)."""
    return f"{PREFIX}:ratelimit:{token_id}:{window}"


# Worker heartbeats: one hash per worker, expiring when the worker stops beating.
WORKER_HEARTBEAT_PREFIX: Final = f"{PREFIX}:worker:"


def worker_heartbeat(name: str) -> str:
    """Key of one worker's heartbeat hash."""
    return f"{WORKER_HEARTBEAT_PREFIX}{name}"


# Circuit breakers (SPEC §6): pybreaker's few keys per breaker under this namespace, shared
# by every process; a fixed set (three counters/state keys per breaker), so no TTL is needed.
def breaker_namespace(name: str) -> str:
    """Namespace of one breaker's keys (pybreaker appends `:pybreaker:<field>`)."""
    return f"{PREFIX}:breaker:{name}"


# Analytics results: seed 000's key names, read by existing consumers as plain strings,
# behind an optional prefix (TALLY_CACHE_PREFIX, default none).
ANALYTICS_RESULT_KEYS: Final[dict[tuple[str, str], str]] = {
    ("popularity", "country"): "analytics_popularity_by_country",
    ("popularity", "category"): "analytics_popularity_by_category",
    ("trending", "country"): "analytics_trending_by_country",
    ("trending", "category"): "analytics_trending_by_category",
}
ANALYTICS_METADATA: Final = "comprehensive_analytics_metadata"


def analytics_key(prefix: str, name: str) -> str:
    """A result key behind the deployment's prefix."""
    return f"{prefix}{name}"


def backfill_prefix(prefix: str, as_of: str) -> str:
    """Where a run as of a past time publishes (with the same TTL): not the live keys that
    seed 000's readers see, unless it was asked to publish there."""
    return f"{prefix}backfill:{as_of}:"


# One beat process fires schedules; the others wait for this lease (celery#2856).
BEAT_LEADER_LOCK: Final = f"{PREFIX}:beat:leader"


def startup_once(task: str) -> str:
    """Set when a worker enqueued a start-up task, so N workers starting do not run it N times."""
    return f"{PREFIX}:startup:{task}"


# Celery's Redis transport keeps one list per (queue, priority step); step 0 is the bare name
# and is consumed first. Tally's priorities 0-9 (higher first) map onto Celery's 9-0.
BROKER_PRIORITY_SEP: Final = "\x06\x16"
PRIORITY_STEPS: Final = tuple(range(10))


# Kombu's own keys for delivered, unacknowledged messages (its defaults): a hash of messages
# and a sorted set of delivery times, swept for re-delivery after the visibility timeout.
BROKER_UNACKED: Final = "unacked"
BROKER_UNACKED_INDEX: Final = "unacked_index"


def broker_queue_keys(queue: str) -> list[str]:
    """The Redis lists holding a queue's waiting messages, one per priority step."""
    return [
        queue if step == 0 else f"{queue}{BROKER_PRIORITY_SEP}{step}" for step in PRIORITY_STEPS
    ]


# Job index (SPEC §5): one hash per job, and sorted sets that list them; all with TTLs.
JOB_PREFIX: Final = f"{PREFIX}:job:"
JOBS_PREFIX: Final = f"{PREFIX}:jobs:"


def job(job_id: str) -> str:
    """Hash of one job: task, queue, status, progress, attempts, timestamps, result."""
    return f"{JOB_PREFIX}{job_id}"


def jobs_active(queue: str) -> str:
    """Jobs of a queue not finished yet (queued, running, retrying), scored by creation."""
    return f"{JOBS_PREFIX}active:{queue}"


def jobs_running(queue: str) -> str:
    """Jobs of a queue running now, scored by start."""
    return f"{JOBS_PREFIX}running:{queue}"


def jobs_done(queue: str, status: str) -> str:
    """Finished jobs of a queue with one final status, scored by finish; capped and aged."""
    return f"{JOBS_PREFIX}done:{queue}:{status}"


def jobs_scheduled(queue: str) -> str:
    """Jobs held in Redis until their eta, scored by it; promoted to the broker when due."""
    return f"{JOBS_PREFIX}scheduled:{queue}"


# Task names, routed to their queue by queue/app.py.
TASK_FLUSH: Final = "events.flush"
TASK_STORE_STATS: Final = "store.stats"
TASK_DB_UPGRADE: Final = "store.upgrade"
TASK_ANALYTICS_RUN: Final = "analytics.run"
TASK_NOOP: Final = "tally.noop"
TASK_CATALOG: Final = "maintenance.refresh_catalog"
TASK_QUERY_STATS: Final = "maintenance.query_stats"
TASK_CLEANUP: Final = "maintenance.cleanup"
TASK_BACKUP: Final = "maintenance.backup"
TASK_RESTORE: Final = "maintenance.restore"
TASK_BACKUP_PRUNE: Final = "maintenance.prune_backups"
TASK_MONITOR: Final = "monitoring.collect"
TASK_TASK_STATS: Final = "monitoring.task_statistics"
TASK_ALERTS_EVALUATE: Final = "alerts.evaluate"
TASK_ALERTS_DELIVER: Final = "alerts.deliver"
TASK_ALERTS_ON_JOB: Final = "alerts.on_job"
TASK_ALERTS_AFTER_ANALYTICS: Final = "alerts.after_analytics"
TASK_ALERTS_PREVIEW: Final = "alerts.preview"
TASK_DBT_RUN: Final = "dbt.run"
TASK_DBT_TEST: Final = "dbt.test"
TASK_DBT_BUILD: Final = "dbt.build"
TASK_DBT_DOCS: Final = "dbt.docs_generate"
TASK_DBT_FRESHNESS: Final = "dbt.source_freshness"
TASK_TEXT_MORPHOLOGY: Final = "text.morphology"
TASK_TEXT_KEYWORDS: Final = "text.keywords"
TASK_TEXT_BATCH: Final = "text.process_batch"
TASK_REPORTS_TICK: Final = "reports.tick"
TASK_REPORTS_RUN: Final = "reports.run"
TASK_REPORTS_DELIVER: Final = "reports.deliver"
TASK_REPORTS_CLEANUP: Final = "reports.cleanup"
