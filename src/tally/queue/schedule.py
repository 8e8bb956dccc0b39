"""The schedule table, and a scheduler that fires only while it holds a Redis lease."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from celery import beat
from celery.schedules import crontab

from tally import keys
from tally.buffer.redis import LEASE_REFRESH, LEASE_RELEASE
from tally.errors import ConfigError
from tally.settings import Settings

log = logging.getLogger("tally.beat")


def cron(expression: str) -> crontab:
    """A Celery crontab from `minute hour day-of-month month day-of-week` (UTC)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ConfigError(f"TALLY_ANALYTICS_SCHEDULE: expected 5 cron fields, got {expression!r}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        schedule = crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except ValueError as exc:
        raise ConfigError(f"TALLY_ANALYTICS_SCHEDULE: {expression!r}: {exc}") from None
    return schedule


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """What beat fires: flushes every TALLY_FLUSH_INTERVAL_S, analytics on its cron."""
    return {
        "flush-events": {
            "task": keys.TASK_FLUSH,
            "schedule": timedelta(seconds=settings.flush_interval_s),
            # A flush missed by a stopped beat is superseded by the next one.
            "options": {"expires": settings.flush_interval_s},
        },
        "analytics-daily": {
            "task": keys.TASK_ANALYTICS_RUN,
            "schedule": cron(settings.analytics_schedule),
        },
    }


class LeaderScheduler(beat.PersistentScheduler):
    """Fires the schedule only while holding a Redis lease; other beats stand by.

    Two `tally beat` processes would otherwise both fire every entry (celery#2856). The
    lease expires `tally_beat_lock_ttl_s` after its holder stops refreshing it (SIGKILL,
    network split); a standby then takes over within that time. A lease of our own rather
    than RedBeat: the schedule stays a table in code, and only leadership lives in Redis.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = str(self.app.conf.broker_url or "")
        self._redis = redis.Redis.from_url(url) if url.startswith(("redis", "rediss")) else None
        # Who holds the lease is readable in Redis: host, pid, then a random part.
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        ttl_s: Any = self.app.conf.get("tally_beat_lock_ttl_s") or 30
        self._ttl_ms = int(float(ttl_s) * 1000)
        self._leader = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._redis is not None and not self._hold_lease():
            max_interval: Any = self.max_interval
            return min(self._ttl_ms / 3000, float(max_interval))
        interval: float = super().tick(*args, **kwargs)
        # Wake up in time to refresh the lease before it lapses.
        return min(interval, self._ttl_ms / 3000)

    def _hold_lease(self) -> bool:
        assert self._redis is not None
        try:
            if self._leader and self._redis.eval(
                LEASE_REFRESH, 1, keys.BEAT_LEADER_LOCK, self._token, self._ttl_ms
            ):
                return True
            was_leader = self._leader
            self._leader = bool(
                self._redis.set(keys.BEAT_LEADER_LOCK, self._token, nx=True, px=self._ttl_ms)
            )
        except redis.RedisError as exc:
            log.warning("beat lease unavailable (%s); not firing", type(exc).__name__)
            self._leader = False
            return False
        if self._leader and not was_leader:
            log.info("this beat holds the lease and fires the schedule")
        elif was_leader:
            log.warning("beat lease lost; standing by")
        return self._leader

    def close(self) -> None:
        if self._redis is not None and self._leader:
            with contextlib.suppress(redis.RedisError):  # the lease expires on its own
                self._redis.eval(LEASE_RELEASE, 1, keys.BEAT_LEADER_LOCK, self._token)
        super().close()


def schedule_table(settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each scheduled entry: its task, how often, and when it fires next (UTC, ISO 8601)."""
    now = now or datetime.now(UTC)
    rows = []
    for name, entry in beat_schedule(settings).items():
        sched = entry["schedule"]
        if isinstance(sched, crontab):
            every = settings.analytics_schedule + " (cron, UTC)"
            due = now + sched.remaining_estimate(now) + timedelta(milliseconds=500)
            next_run: str | None = due.replace(microsecond=0).isoformat()
        else:
            every = f"every {sched.total_seconds():g} s"
            next_run = None  # follows the last run, which beat keeps to itself
        rows.append({"name": name, "task": entry["task"], "every": every, "next_run": next_run})
    return rows
