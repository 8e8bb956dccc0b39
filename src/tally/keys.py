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

PREFIX: Final = "tally"

# Event buffer (a Redis Stream consumed by one consumer group).
EVENTS_STREAM: Final = f"{PREFIX}:events:stream"
EVENTS_GROUP: Final = "tally-flushers"
# Number of events (not stream entries) waiting; an entry holds a chunk of events.
EVENTS_PENDING_COUNT: Final = f"{PREFIX}:events:count"
FLUSH_LOCK: Final = f"{PREFIX}:events:flush-lock"
FLUSH_REQUESTED: Final = f"{PREFIX}:events:flush-requested"

# Worker heartbeats: one hash per worker, expiring when the worker stops beating.
WORKER_HEARTBEAT_PREFIX: Final = f"{PREFIX}:worker:"


def worker_heartbeat(name: str) -> str:
    """Key of one worker's heartbeat hash."""
    return f"{WORKER_HEARTBEAT_PREFIX}{name}"


# Task names, routed to their queue by queue/app.py.
TASK_FLUSH: Final = "tally.events.flush"
TASK_STORE_STATS: Final = "tally.store.stats"
TASK_DB_UPGRADE: Final = "tally.store.upgrade"
