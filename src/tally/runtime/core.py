"""One process's view of Tally: buffer, job engine and (in its owner) the store."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from tally import keys
from tally.analytics.compute import iso, parse_as_of
from tally.analytics.params import AnalyticsParams
from tally.breakers import Breakers
from tally.breakers import specs as breaker_specs
from tally.buffer.ingest import IngestResult, ingest
from tally.buffer.ratelimit import ANONYMOUS, RateLimiter
from tally.cache import results
from tally.errors import NotFound, TallyError, UnavailableError
from tally.queue import jobs
from tally.queue.app import create_app
from tally.queue.burst import BurstMonitor
from tally.queue.context import TaskContext
from tally.queue.engine import EmbeddedEngine, worker_idle
from tally.queue.heartbeat import Heartbeat, workers_seen
from tally.queue.promote import Promoter
from tally.runtime.factory import (
    accept_options,
    build_buffer,
    build_index,
    build_metadata,
    build_results,
    build_store,
    redis_client,
)
from tally.runtime.jobs import JobOps
from tally.settings import Mode, Settings

log = logging.getLogger("tally")


class Runtime(JobOps):
    """Built from settings at an entry point; passed to the API, the CLI and the SDK."""

    def __init__(self, settings: Settings, *, run_tasks: bool) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.redis = redis_client(settings)
        self.buffer = build_buffer(settings, self.redis)
        self.results = build_results(settings, self.redis)
        self.context = TaskContext(
            settings,
            self.buffer,
            lambda: build_store(settings),
            self.results,
            AnalyticsParams.from_settings(settings),
        )
        self.index = build_index(settings, self.redis)
        self.metadata = build_metadata(settings)
        self.breakers = Breakers(self.redis, breaker_specs(settings.breakers))
        self.app = create_app(
            settings, self.index, self.breakers, self.context if run_tasks else None
        )
        self.options = accept_options(settings)
        self.rate_limiter = RateLimiter(settings.ingest_rate_limit, self.redis)
        self.engine: EmbeddedEngine | None = None
        self.heartbeat: Heartbeat | None = None
        self.promoter: Promoter | None = None
        self._started_at = time.time()

    # --- lifecycle -----------------------------------------------------------------
    def start_embedded(self, concurrency: int = 4, *, startup_jobs: bool = False) -> None:
        """Run the worker and scheduler as threads here, owning the store (embedded mode)."""
        log.warning(
            "EMBEDDED MODE: no REDIS_URL set. The job engine, buffer and cache run inside "
            "this process; nothing is distributed and queued jobs and buffered events are "
            "lost on restart. Set REDIS_URL for production."
        )
        self.context.store()  # open and upgrade now: fail at start, not on the first flush
        self.engine = EmbeddedEngine(
            self.app,
            concurrency=concurrency,
            schedule_path=self.settings.data_dir / "beat-schedule",
        )
        self.engine.start()
        self.promoter = Promoter(self.app, list(keys.QUEUES), self.settings.scheduler_poll_s)
        self.promoter.start()
        if startup_jobs and self.settings.analytics_on_startup:
            jobs.send(self.app, keys.TASK_ANALYTICS_RUN)

    def on_worker_ready(self, queues: list[str]) -> None:
        """Seed 000's run at start-up: once per start of the workers, not once per worker."""
        if not self.settings.analytics_on_startup or keys.ANALYTICS_QUEUE not in queues:
            return
        if self.redis is not None:
            window_s = max(60, int(self.settings.worker_heartbeat_s * 6))
            if not self.redis.set(keys.ANALYTICS_STARTUP_ONCE, "1", nx=True, ex=window_s):
                return  # another worker starting at the same time already asked for it
        jobs.send(self.app, keys.TASK_ANALYTICS_RUN)

    def start_worker_services(
        self, name: str, queues: list[str], concurrency: int, pool: str, *, burst: bool = False
    ) -> None:
        """A worker's side threads: heartbeat, promoter of held jobs, and burst exit."""
        self.promoter = Promoter(self.app, queues, self.settings.scheduler_poll_s)
        self.promoter.start()
        self.start_heartbeat(name, queues, concurrency, pool)
        if burst and self.redis is not None:
            client = self.redis
            idle = lambda: worker_idle(self.app, client, queues)  # noqa: E731
            BurstMonitor(idle, interval_s=0.25, settle_s=1.0).start()

    def start_heartbeat(self, name: str, queues: list[str], concurrency: int, pool: str) -> None:
        """Publish this worker's heartbeat in Redis (Redis mode)."""
        if self.redis is None:
            return

        def info() -> dict[str, Any]:
            return {
                "queues": queues,
                "concurrency": concurrency,
                "pool": pool,
                "store_backend": self.settings.store_kind,
                "store_open": self.context.store_open,
                "started_at": self._started_at,
            }

        self.heartbeat = Heartbeat(self.redis, name, info, self.settings.worker_heartbeat_s)
        self.heartbeat.start()

    def stop(self) -> None:
        """Stop what this runtime started and release its resources."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.promoter is not None:
            self.promoter.stop()
        if self.engine is not None:
            self.engine.stop()
        self.context.close()
        self.index.close()
        self.metadata.close()

    # --- events --------------------------------------------------------------------
    def ingest(self, items: list[Any], client_id: str = ANONYMOUS) -> IngestResult:
        """Validate and buffer events; enqueue a flush when the buffer passes the batch size.

        `client_id` names the caller for the per-token rate limit (RateLimited past it).
        """
        self.rate_limiter.take(client_id, len(items))
        result = ingest(items, self.buffer, self.options, batch_size=self.settings.batch_size)
        if result.flush_due:
            try:
                jobs.send(self.app, keys.TASK_FLUSH)
            except UnavailableError:
                # The events are safely buffered; the scheduled flush will store them.
                log.warning("size-triggered flush not enqueued: broker unavailable")
        return result

    def flush(self, wait: bool, timeout_s: float) -> dict[str, Any]:
        """Enqueue a flush; with `wait`, return its report."""
        if not wait:
            return {"job_id": jobs.send(self.app, keys.TASK_FLUSH), "status": "queued"}
        report: dict[str, Any] = jobs.call(self.app, keys.TASK_FLUSH, timeout_s)
        return report

    def buffer_info(self) -> dict[str, Any]:
        """Events waiting and the age of the oldest."""
        size = self.buffer.size()
        age = self.buffer.oldest_age_s()
        return {
            "events": size,
            "oldest_age_s": None if age is None else round(age, 3),
            "batch_size": self.settings.batch_size,
            "flush_interval_s": self.settings.flush_interval_s,
            "backend": self.buffer.kind,
        }

    def store_stats(self, timeout_s: float) -> dict[str, Any]:
        """Store stats, computed by the store's owner through a job (works in every mode)."""
        stats: dict[str, Any] = jobs.call(self.app, keys.TASK_STORE_STATS, timeout_s)
        return stats

    def db_upgrade(self, timeout_s: float) -> list[str]:
        """Migrate the store's schema through its owner."""
        applied: list[str] = jobs.call(self.app, keys.TASK_DB_UPGRADE, timeout_s)
        return applied

    # --- analytics -----------------------------------------------------------------
    def analytics_run(self, as_of: str | None, wait: bool, timeout_s: float) -> dict[str, Any]:
        """Enqueue an analytics run (as_of checked here, before it reaches a worker)."""
        when = None if as_of is None else iso(parse_as_of(as_of))
        if not wait:
            job_id = jobs.send(self.app, keys.TASK_ANALYTICS_RUN, as_of=when)
            return {"job_id": job_id, "status": "queued", "as_of": when}
        metadata: dict[str, Any] = jobs.call(
            self.app, keys.TASK_ANALYTICS_RUN, timeout_s, as_of=when
        )
        return metadata

    def analytics_results(
        self, metric: str, by: str, group: str | None, limit: int | None
    ) -> dict[str, Any]:
        """A published result set (404-worthy NotFound before the first run)."""
        return results.read_results(self.results, metric, by, group, limit)

    def analytics_metadata(self) -> dict[str, Any]:
        """The last run's metadata."""
        metadata = results.read_metadata(self.results)
        if metadata is None:
            raise NotFound(results.NO_RUN_YET)
        return metadata

    # --- health --------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        """Workers seen in the last minute (embedded: this process's own worker thread)."""
        if self.mode is Mode.EMBEDDED:
            return [{"name": "embedded", "alive": self.engine is not None and self.engine.alive}]
        assert self.redis is not None
        return workers_seen(self.redis)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Status of Redis, the store (as its owner reports it), workers and the buffer."""
        checks: dict[str, Any] = {"mode": self.mode.value, **self.settings.describe()}
        problems: list[str] = []
        if self.mode is Mode.EMBEDDED:
            checks["workers"] = self.workers()
            alive = bool(checks["workers"][0]["alive"])
            checks["redis"] = {"status": "not used (embedded)"}
            checks["store"] = {"status": "ok" if self.context.store_open else "closed"}
            if not alive:
                problems.append("embedded worker is not running")
        else:
            assert self.redis is not None
            try:
                self.redis.ping()
                checks["redis"] = {"status": "ok"}
                seen = self.workers()
                checks["workers"] = seen
                owners = [w for w in seen if w.get("store_open")]
                checks["store"] = {
                    "status": "ok" if owners else "no worker has opened it yet",
                    "backend": self.settings.store_kind,
                }
                if not seen:
                    problems.append("no worker seen in the last minute")
            except Exception as exc:
                checks["redis"] = {"status": "down", "error": type(exc).__name__}
                problems.append("redis unreachable")
        ok, error = self.metadata.ping()
        checks["metadata_db"] = {"status": "ok" if ok else "down", "backend": self.metadata.backend}
        if not ok:
            checks["metadata_db"]["error"] = error
            problems.append("metadata database unreachable")
        try:
            # Reported, not a reason for 503: an open breaker is the system protecting itself.
            checks["breakers"] = self.breakers.states()
        except Exception as exc:  # Redis down: already reported above
            checks["breakers"] = {"status": "unavailable", "error": type(exc).__name__}
        try:
            checks["buffer"] = self.buffer_info()
        except TallyError as exc:
            checks["buffer"] = {"status": "unavailable", "error": str(exc)}
        try:
            checks["queues"] = {
                q["name"]: {k: q[k] for k in ("pending", "scheduled", "running", "workers")}
                for q in self.queues()
            }
        except Exception as exc:  # Redis down: already reported above
            checks["queues"] = {"status": "unavailable", "error": type(exc).__name__}
        checks["problems"] = problems
        return not problems, checks


_embedded: Runtime | None = None
_embedded_lock = threading.Lock()


def embedded_runtime(settings: Settings, *, startup_jobs: bool = False) -> Runtime:
    """The process-wide all-in-one runtime (embedded mode), started on first use.

    `startup_jobs`: run what a worker runs when it starts (seed 000's analytics run); only
    the long-lived all-in-one process (`tally dev`) asks for it, not one-shot commands.
    """
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            runtime = Runtime(settings, run_tasks=True)
            runtime.start_embedded(startup_jobs=startup_jobs)
            _embedded = runtime
        return _embedded


def stop_embedded() -> None:
    """Stop the process-wide embedded runtime if it runs."""
    global _embedded
    with _embedded_lock:
        if _embedded is not None:
            _embedded.stop()
            _embedded = None
