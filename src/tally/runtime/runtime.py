"""The composition root: one process's view of Tally, one service per capability.

Wiring only: it builds each part from its settings section, hands the capabilities their
services, and lists the health checks. Routes, commands and the SDK call the services
(`runtime.events`, `runtime.store`, `runtime.analytics`, `runtime.jobs`, `runtime.inspector`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from tally import keys
from tally.alerts.evaluate import Sources
from tally.alerts.health import AlertsCheck
from tally.alerts.service import AlertsService
from tally.analytics.params import AnalyticsParams
from tally.analytics.service import AnalyticsService
from tally.dbt.service import DbtService
from tally.errors import UnavailableError
from tally.infra.breakers import Breakers, BreakersCheck
from tally.infra.breakers import specs as breaker_specs
from tally.infra.health import Checked, FunctionCheck, HealthCheck
from tally.infra.metadb.db import MetadataCheck
from tally.infra.metadb.migrate import upgrade as upgrade_metadata
from tally.infra.redis import RedisCheck, call
from tally.infra.redis_policy import PolicyGuard
from tally.ingest.ratelimit import RateLimiter
from tally.ingest.service import IngestService, accept_options
from tally.jobs.registry import startup_tasks
from tally.jobs.resources import Resources
from tally.maintenance.monitoring import process_metrics
from tally.maintenance.service import MaintenanceService
from tally.maintenance.tasks import Context as MaintenanceContext
from tally.queue.app import create_app
from tally.queue.client import CeleryJobClient
from tally.queue.engine import EmbeddedEngine, worker_idle
from tally.queue.inspect import Inspector, QueuesCheck, WorkersCheck
from tally.queue.worker.burst import BurstMonitor
from tally.queue.worker.heartbeat import Heartbeat
from tally.queue.worker.promote import Promoter
from tally.reports.health import ReportsCheck
from tally.reports.rankings import AnalyticsRankings
from tally.reports.service import ReportsService
from tally.reports.sources import Context as ReportsContext
from tally.reports.sources import Limits as ReportLimits
from tally.runtime.factory import (
    build_buffer,
    build_index,
    build_metadata,
    build_results,
    build_store,
    redis_client,
    store_names,
)
from tally.runtime.figures import RuntimeFigures
from tally.runtime.health import run_checks
from tally.runtime.measures import RuntimeMeasures
from tally.settings import Mode, Settings
from tally.store.health import StoreCheck
from tally.store.owner import StoreOwner
from tally.store.service import StoreService

log = logging.getLogger("tally")

# The built-in capabilities' task modules, loaded beside TALLY_TASK_MODULES.
BUILTIN_TASK_MODULES = (
    "tally.store.tasks",
    "tally.analytics.tasks",
    "tally.alerts.tasks",
    "tally.reports.tasks",
    "tally.dbt.tasks",
    "tally.text.tasks",
    "tally.maintenance.tasks",
)


class Runtime:
    """Built from settings at an entry point; passed to the API, the CLI and the SDK."""

    def __init__(self, settings: Settings, *, run_tasks: bool) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.redis = redis_client(settings.redis)
        buffer = build_buffer(self.redis)
        self.index = build_index(settings.jobs, self.redis)
        self.metadata = build_metadata(settings.metadata)
        self.breakers = Breakers(self.redis, breaker_specs(settings.jobs.breakers))
        modules = [*BUILTIN_TASK_MODULES, *settings.jobs.task_module_list()]
        self.app = create_app(settings, self.index, self.breakers, task_modules=modules)
        self.jobs = CeleryJobClient(self.app)
        r = settings.redis
        self.redis_policy = (
            None
            if self.redis is None
            else PolicyGuard(
                self.redis,
                allow_evicting=r.allow_evicting,
                require_persistence=r.require_persistence,
                check_s=r.policy_check_s,
            )
        )
        options = accept_options(settings.ingest, retention_days=settings.store.retention_days)
        limiter = RateLimiter(settings.ingest.rate_limit, self.redis)
        self.events = IngestService(
            buffer, options, limiter, self.jobs, settings.flush, admission=self.redis_policy
        )
        self.store = StoreService(self.jobs)
        self.owner = StoreOwner(lambda: build_store(settings.store), buffer, settings.flush)
        params = AnalyticsParams.from_settings(settings.analytics)
        publication = build_results(settings.analytics, self.redis)
        self.analytics = AnalyticsService(self.jobs, publication, params)
        self.alerts = AlertsService(
            self.metadata, settings.alerts, self.jobs, self.breakers, self._dashboard_url()
        )
        self.reports = ReportsService(
            self.metadata, settings.reports, settings.alerts, self.jobs, self._dashboard_url()
        )
        self.dbt = DbtService(self.metadata, settings.dbt, settings.store)
        self.maintenance = MaintenanceService(
            self.metadata, settings.maintenance, self.jobs, settings.store.backup_path,
            settings.data_dir,
        )  # fmt: skip
        self.engine: EmbeddedEngine | None = None
        self.heartbeat: Heartbeat | None = None
        self.promoter: Promoter | None = None
        self.inspector = Inspector(settings, self.index, self.redis, self._embedded_alive)
        if run_tasks:
            measures = RuntimeMeasures(
                self.inspector, self.index, self.events, self.breakers, settings.flush.interval_s
            )
            sources = Sources(self.owner.store, measures, self.analytics, dict(params.weights))
            rs = settings.reports
            reports = ReportsContext(
                self.owner.store, store_names(settings.store),
                AnalyticsRankings(self.analytics, self.owner.store), self.index,
                dict(params.weights), ReportLimits(rs.sql_max_rows, rs.sql_timeout_s),
            )  # fmt: skip
            figures = RuntimeFigures(self.inspector, self.events, self.owner,
                                     embedded=self.mode is Mode.EMBEDDED)  # fmt: skip
            upkeep = MaintenanceContext(
                figures, self.index, store_names(settings.store), self.metadata.url,
                float(settings.jobs.history_ttl_s), figures.busy,
            )  # fmt: skip
            self.app.resources = Resources(
                self.owner, self.analytics, self.alerts, sources, self.reports, reports, self.dbt,
                self.maintenance, upkeep,
            )  # fmt: skip
        self.checks = self._health_checks()
        self._started_at = time.time()
        self._started_applied: list[str] = []

    def _dashboard_url(self) -> str:
        api = self.settings.api
        return self.settings.alerts.public_url or f"http://{api.host}:{api.port}"

    def _embedded_alive(self) -> bool:
        return self.engine is not None and self.engine.alive

    def _health_checks(self) -> list[HealthCheck]:
        embedded = self.mode is Mode.EMBEDDED
        owner_workers = None if embedded else self.inspector.workers
        events = self.events
        policy: list[HealthCheck] = [] if self.redis_policy is None else [self.redis_policy]
        return [
            RedisCheck(self.redis),
            *policy,
            WorkersCheck(self.inspector, embedded=embedded),
            StoreCheck(self.owner, self.settings.store.kind, owner_workers),
            MetadataCheck(self.metadata),
            BreakersCheck(self.breakers),
            FunctionCheck("buffer", lambda: Checked(events.buffer_info())),
            QueuesCheck(self.inspector, consumers_matter=not embedded),
            AlertsCheck(self.alerts),
            ReportsCheck(self.reports),
        ]

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Every part's check: (healthy, the body /api/v1/health answers)."""
        return run_checks(self.checks, {"mode": self.mode.value, **self.settings.describe()})

    def watch_redis(self) -> None:
        """Read Redis's eviction policy and persistence now and every minute (Redis mode)."""
        if self.redis_policy is not None:
            self.redis_policy.start()

    def upgrade_metadata(self) -> list[str]:
        """Migrate the metadata database (Alembic) to the newest revision; what was applied.

        Embedded, the runtime upgraded it when it started: those revisions are said here.
        """
        applied, self._started_applied = self._started_applied, []
        return applied + upgrade_metadata(self.metadata)

    # --- lifecycle -----------------------------------------------------------------
    def start_embedded(
        self, concurrency: int = 4, *, startup_jobs: bool = False, announce: bool = True
    ) -> None:
        """Run the worker and scheduler as threads here, owning the store (embedded mode).

        `announce`: say embedded mode in a log line (False: the caller's banner said it).
        """
        if announce:
            log.warning(
                "EMBEDDED MODE: no REDIS_URL set. The job engine, buffer and cache run inside "
                "this process; nothing is distributed and queued jobs and buffered events are "
                "lost on restart. Set REDIS_URL for production."
            )
        self.owner.store()  # open and upgrade now: fail at start, not on the first flush
        self.engine = EmbeddedEngine(
            self.app,
            concurrency=concurrency,
            schedule_path=self.settings.data_dir / "beat-schedule",
        )
        self.engine.start()
        self.promoter = Promoter(self.app, list(keys.QUEUES), self.settings.jobs.scheduler_poll_s)
        self.promoter.start()
        # Embedded, the process is the deployment: its metadata DB is its own to upgrade, so
        # `tally dbt init && tally enqueue dbt.build` works on a fresh demo.
        try:
            self._started_applied = upgrade_metadata(self.metadata)
        except UnavailableError as exc:  # health names it; the events path does without
            log.warning("metadata database not upgraded: %s", exc.message)
        if startup_jobs:
            for task in startup_tasks(self.settings, list(keys.QUEUES)):
                self.jobs.send(task)

    def on_worker_ready(self, queues: list[str]) -> None:
        """Run the start-up tasks of these queues: once per start of the workers, not per worker."""
        window_s = max(60, int(self.settings.jobs.heartbeat_s * 6))
        for task in startup_tasks(self.settings, queues):
            if self.redis is not None and not self._first_to_start(task, window_s):
                continue  # another worker starting at the same time already sent it
            self.jobs.send(task)

    def _first_to_start(self, task: str, window_s: int) -> bool:
        assert self.redis is not None
        client, key = self.redis, keys.startup_once(task)
        return bool(call("start-up jobs", lambda: client.set(key, "1", nx=True, ex=window_s)))

    def start_worker_services(
        self, name: str, queues: list[str], concurrency: int, pool: str, *, burst: bool = False
    ) -> None:
        """A worker's side threads: heartbeat, promoter of held jobs, and burst exit."""
        self.promoter = Promoter(self.app, queues, self.settings.jobs.scheduler_poll_s)
        self.promoter.start()
        if self.redis is None:
            return
        self.watch_redis()

        def info() -> dict[str, Any]:
            return {
                "queues": queues,
                "concurrency": concurrency,
                "pool": pool,
                "store_backend": self.settings.store.kind,
                "store_open": self.owner.is_open,
                "started_at": self._started_at,
                "process": process_metrics(),  # what monitoring.collect records per worker
            }

        self.heartbeat = Heartbeat(self.redis, name, info, self.settings.jobs.heartbeat_s)
        self.heartbeat.start()
        if burst:
            client = self.redis
            idle = lambda: worker_idle(self.app, client, queues)  # noqa: E731
            BurstMonitor(idle, interval_s=0.25, settle_s=1.0).start()

    def stop(self) -> None:
        """Stop what this runtime started and release its resources."""
        if self.redis_policy is not None:
            self.redis_policy.stop()
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.promoter is not None:
            self.promoter.stop()
        if self.engine is not None:
            self.engine.stop()
        self.owner.close()
        self.events.buffer.close()
        self.index.close()
        self.metadata.close()


_embedded: Runtime | None = None
_embedded_lock = threading.Lock()


def embedded_runtime(
    settings: Settings, *, startup_jobs: bool = False, announce: bool = True
) -> Runtime:
    """The process-wide all-in-one runtime (embedded mode), started on first use.

    `startup_jobs`: run what a worker runs when it starts (seed 000's analytics run); only
    the long-lived all-in-one process (`tally dev`) asks for it, not one-shot commands.
    """
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            runtime = Runtime(settings, run_tasks=True)
            runtime.start_embedded(startup_jobs=startup_jobs, announce=announce)
            _embedded = runtime
        return _embedded


def stop_embedded() -> None:
    """Stop the process-wide embedded runtime if it runs."""
    global _embedded
    with _embedded_lock:
        if _embedded is not None:
            _embedded.stop()
            _embedded = None
