"""The schedule table, and a scheduler that fires only while it holds a Redis lease."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import beat
from celery.schedules import crontab

from tally import keys
from tally.errors import ConfigError, UnavailableError
from tally.infra.redis import RedisLease, connect
from tally.jobs.registry import schedules
from tally.jobs.schedule import Cron
from tally.settings import Settings

log = logging.getLogger("tally.beat")


def crontab_of(when: Cron, now: datetime | None = None) -> crontab:
    """A Celery crontab from a declared five-field cron (UTC); `now` pins its clock."""
    minute, hour, day_of_month, month_of_year, day_of_week = when.expression.split()
    try:
        return crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            nowfun=None if now is None else (lambda: now),
        )
    except ValueError as exc:
        where = when.setting or "cron"
        raise ConfigError(f"{where}: {when.expression!r}: {exc}") from None


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """What beat fires: every schedule the registered tasks declare."""
    table: dict[str, dict[str, Any]] = {}
    for entry in schedules(settings):
        when = entry.when
        row: dict[str, Any] = {"task": entry.task, "kwargs": entry.kwargs}
        if isinstance(when, Cron):
            row["schedule"] = crontab_of(when)
        else:
            row["schedule"] = timedelta(seconds=when.seconds)
            if when.expires_s is not None:
                # A run missed by a stopped beat is superseded by the next one.
                row["options"] = {"expires": when.expires_s}
        table[entry.name] = row
    return table


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
        ttl_s: Any = self.app.conf.get("tally_beat_lock_ttl_s") or 30
        self._ttl_s = float(ttl_s)
        # Who holds the lease is readable in Redis: host, pid, then a random part.
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = (
            RedisLease(connect(url, 2.0), keys.BEAT_LEADER_LOCK, self._ttl_s, token)
            if url.startswith(("redis", "rediss"))
            else None
        )
        self._leader = False
        self._unavailable = False  # said once per outage, not once per tick

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._lease is not None and not self._hold_lease():
            max_interval: Any = self.max_interval
            return min(self._ttl_s / 3, float(max_interval))
        interval: float = super().tick(*args, **kwargs)
        # Wake up in time to refresh the lease before it lapses.
        return min(interval, self._ttl_s / 3)

    def _hold_lease(self) -> bool:
        assert self._lease is not None
        was_leader = self._leader
        try:
            self._leader = (self._leader and self._lease.refresh()) or self._lease.acquire()
        except UnavailableError as exc:
            if not self._unavailable:
                log.warning("beat lease unavailable (%s); not firing", exc.message)
            self._unavailable = True
            self._leader = False
            return False
        if self._unavailable:
            log.info("beat lease reachable again")
            self._unavailable = False
        if self._leader and not was_leader:
            log.info("this beat holds the lease and fires the schedule")
        elif was_leader and not self._leader:
            log.warning("beat lease lost; standing by")
        return self._leader

    def close(self) -> None:
        if self._lease is not None and self._leader:
            self._lease.release()  # it expires on its own anyway
        super().close()


def schedule_table(settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each scheduled entry: its task, how often, and when it fires next (UTC, ISO 8601)."""
    now = now or datetime.now(UTC)
    rows = []
    for entry in schedules(settings):
        if isinstance(entry.when, Cron):
            sched = crontab_of(entry.when, now)  # the next run after `now`, not the clock's
            due = now + sched.remaining_estimate(now) + timedelta(milliseconds=500)
            next_run: str | None = due.replace(microsecond=0).isoformat()
        else:
            next_run = None  # follows the last run, which beat keeps to itself
        rows.append({"name": entry.name, "task": entry.task, "every": entry.when.describe(),
                     "next_run": next_run})  # fmt: skip
    return rows
