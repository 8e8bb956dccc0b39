"""What the job engine is doing: workers seen, and per queue its depth, jobs and consumers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import redis

from tally import keys
from tally.errors import UnavailableError
from tally.infra.health import Checked
from tally.infra.redis import redis_errors
from tally.jobs.base import JobIndex
from tally.jobs.record import Status
from tally.jobs.registry import REGISTRY, schedules, startup_tasks
from tally.queue.beat import schedule_table
from tally.settings import Settings


def workers_seen(client: redis.Redis) -> list[dict[str, Any]]:
    """Records of workers whose heartbeat has not expired."""
    with redis_errors("worker heartbeats"):
        names = list(client.scan_iter(match=f"{keys.WORKER_HEARTBEAT_PREFIX}*", count=100))
        records = client.mget(names) if names else []
    return [orjson.loads(r) for r in records if r]


def broker_depths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting in the broker per queue (every priority step)."""
    with redis_errors("broker"), client.pipeline(transaction=False) as pipe:
        for queue in queues:
            for key in keys.broker_queue_keys(queue):
                pipe.llen(key)
        lengths = pipe.execute()
    steps = len(keys.PRIORITY_STEPS)
    return {q: sum(lengths[i * steps : (i + 1) * steps]) for i, q in enumerate(queues)}


def due_held(client: redis.Redis, queues: list[str], now: float) -> int:
    """Held jobs of `queues` whose eta has passed (about to be sent to the broker)."""
    with redis_errors("job index"), client.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.zcount(keys.jobs_scheduled(queue), "-inf", now)
        return sum(int(n) for n in pipe.execute())


# Heartbeats are read with a SCAN of the keyspace. One health answer needs them three times
# (workers, the store's owner, each queue's consumers), so a reading serves for this long;
# heartbeats are written every TALLY_HEARTBEAT_S (10 s), so it is never the stale part.
WORKERS_FRESH_S = 1.0


class Inspector:
    """Queue depths, consumers, workers, tasks and schedule: from Redis, or this process."""

    def __init__(
        self,
        settings: Settings,
        index: JobIndex,
        client: redis.Redis | None,
        embedded_alive: Callable[[], bool] | None = None,
    ) -> None:
        self._settings = settings
        self._index = index
        self._client = client
        self._embedded_alive = embedded_alive or (lambda: False)
        self._seen: tuple[float, list[dict[str, Any]]] | None = None

    def tasks(self) -> list[dict[str, Any]]:
        """Registered tasks with their queue, limits and argument schema."""
        return [spec.describe() for spec in sorted(REGISTRY.values(), key=lambda s: s.name)]

    def schedule(self) -> list[dict[str, Any]]:
        """The schedule table with each entry's next run."""
        return schedule_table(self._settings)

    def scheduled_queues(self) -> dict[str, list[str]]:
        """Queue -> the tasks that run there by themselves (on a schedule or at start-up)."""
        out: dict[str, list[str]] = {}
        names = {e.task for e in schedules(self._settings)}
        names |= set(startup_tasks(self._settings, list(keys.QUEUES)))
        for name in sorted(names):
            task = REGISTRY.get(name)
            if task is not None:
                out.setdefault(task.queue, []).append(name)
        return out

    def workers(self) -> list[dict[str, Any]]:
        """Workers seen in the last minute (embedded: this process's own worker thread)."""
        if self._client is None:
            return [{"name": "embedded", "alive": self._embedded_alive()}]
        now = time.monotonic()
        seen = self._seen
        if seen is None or now - seen[0] >= WORKERS_FRESH_S:
            seen = (now, workers_seen(self._client))
            self._seen = seen
        return seen[1]

    def queues(self) -> list[dict[str, Any]]:
        """Per queue: waiting, held, running, finished in 24 h, and the workers consuming it."""
        now = time.time()
        names = list(keys.QUEUES)
        consumers: dict[str, list[str]] = {q: [] for q in names}
        if self._client is not None:
            for worker in self.workers():
                for queue in worker.get("queues") or []:
                    consumers.setdefault(queue, []).append(str(worker.get("name")))
            depth = broker_depths(self._client, names)
        else:
            waiting = self._index.recent([Status.QUEUED], names, 100_000)
            depth = {q: sum(1 for r in waiting if r.queue == q and r.eta is None) for q in names}
            consumers = {q: ["embedded"] for q in names}
        out = []
        for queue in names:
            counts = self._index.counts(queue, now)
            out.append(
                {
                    "name": queue,
                    "pending": depth[queue],
                    "scheduled": counts.scheduled,
                    "running": counts.running,
                    "succeeded_24h": counts.succeeded_24h,
                    "failed_24h": counts.failed_24h,
                    "aborted_24h": counts.aborted_24h,
                    "workers": sorted(consumers.get(queue, [])),
                }
            )
        return out


class WorkersCheck:
    """Health: is a worker alive (a fresh heartbeat, or the embedded worker thread)?"""

    name = "workers"

    def __init__(self, inspector: Inspector, *, embedded: bool) -> None:
        self._inspector = inspector
        self._embedded = embedded

    def check(self) -> Checked:
        try:
            seen = self._inspector.workers()
        except UnavailableError as exc:
            return Checked.unavailable(exc)
        if self._embedded:
            alive = bool(seen and seen[0]["alive"])
            return Checked(seen, () if alive else ("embedded worker is not running",))
        return Checked(seen, () if seen else ("no worker seen in the last minute",))


class QueuesCheck:
    """Health: each queue's depth, running jobs and consumers (reported, never a problem)."""

    name = "queues"

    def __init__(self, inspector: Inspector, *, consumers_matter: bool) -> None:
        self._inspector = inspector
        self._consumers_matter = consumers_matter  # False: embedded consumes every queue

    def check(self) -> Checked:
        try:
            rows = self._inspector.queues()
        except UnavailableError as exc:
            return Checked.unavailable(exc)
        shown = ("pending", "scheduled", "running", "workers")
        problems = []
        if self._consumers_matter:
            # Scheduled work on a queue nobody consumes never runs: say so, not "ok".
            for queue, tasks in self._inspector.scheduled_queues().items():
                row = next((q for q in rows if q["name"] == queue), None)
                if row is not None and not row["workers"]:
                    problems.append(
                        f"queue {queue} has scheduled work ({', '.join(tasks)}) but no worker "
                        f"consumes it (tally worker -Q ...,{queue})"
                    )
        return Checked({q["name"]: {k: q[k] for k in shown} for q in rows}, tuple(problems))
