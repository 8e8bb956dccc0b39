"""Run Celery workers and beat: as a process (`tally worker`) or as threads (embedded)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from celery import beat
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from tally import keys
from tally.errors import JobRequeued
from tally.queue.base import TallyCelery
from tally.queue.inspect import broker_depths, due_held

log = logging.getLogger("tally.engine")


class QuietReconnects(logging.Filter):
    """Celery's consumer says "Cannot connect ... Trying again" on every retry, over three
    lines: keep the first of an outage, on one line, and drop the rest until it reconnects."""

    def __init__(self) -> None:
        super().__init__()
        self._retrying = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Connected to"):
            self._retrying = False
            return True
        if message.startswith("Skipping prefetch count reduction"):
            return False  # a note about Celery's QoS internals on every reconnect
        if message.startswith("consumer: Cannot connect"):
            if self._retrying:
                return False
            self._retrying = True
            record.msg, record.args = " ".join(message.split()), None
        return True


def run_worker(
    app: TallyCelery,
    *,
    queues: list[str],
    concurrency: int,
    pool: str,
    loglevel: str,
    hostname: str | None = None,
    shutdown_grace_s: float = 25.0,
    quiet: bool = False,
    on_ready: Any = None,
    on_shutdown: Any = None,
) -> int:
    """Run a worker in this process until it is told to stop; return its exit code.

    On SIGTERM the worker stops taking jobs and lets running ones finish for
    `shutdown_grace_s`; those still running then are re-queued, so an orchestrator's
    SIGKILL after its own grace period finds nothing in flight.
    """
    logging.getLogger("celery.worker.consumer.consumer").addFilter(QuietReconnects())
    worker_shutting_down.connect(
        lambda **_: _requeue_after(app, shutdown_grace_s), weak=False, dispatch_uid="tally-grace"
    )
    if on_ready is not None:
        worker_ready.connect(lambda **_: on_ready(), weak=False)
    if on_shutdown is not None:
        worker_shutdown.connect(lambda **_: on_shutdown(), weak=False)
    worker = app.Worker(
        queues=queues,
        concurrency=concurrency,
        pool=pool,
        loglevel=loglevel,
        hostname=hostname or f"tally@{socket.gethostname()}",
        # No mingle/gossip: Tally's own heartbeats in Redis say who is alive.
        without_mingle=True,
        without_gossip=True,
        quiet=quiet,  # no banner on stdout (JSON logs)
    )
    worker.start()
    return int(getattr(worker, "exitcode", 0) or 0)


def prepare_for_celery_cli(
    app: TallyCelery,
    *,
    schedule_path: Path,
    on_ready: Callable[[str, list[str], int, str], None],
    on_shutdown: Callable[[], None],
    shutdown_grace_s: float = 25.0,
) -> None:
    """Make Celery's own CLI (`celery -A ... worker|beat`) run as `tally worker|beat` do.

    beat gets Tally's leader-elected scheduler; a worker gets Tally's services through
    `on_ready(hostname, queues, concurrency, pool)`, run once it consumes.
    """
    schedule_path.parent.mkdir(parents=True, exist_ok=True)
    app.conf.beat_scheduler = "tally.queue.beat:LeaderScheduler"
    app.conf.beat_schedule_filename = str(schedule_path)

    def ready(sender: Any = None, **_: Any) -> None:
        controller = getattr(sender, "controller", None)
        if controller is None:
            return
        queues = sorted(app.amqp.queues.consume_from or app.amqp.queues)
        pool = getattr(controller.pool_cls, "__module__", "prefork").rsplit(".", 1)[-1]
        pool = {"thread": "threads"}.get(pool, pool)  # Tally says threads, as -P does
        on_ready(str(controller.hostname), queues, int(controller.concurrency), pool)

    worker_ready.connect(ready, weak=False, dispatch_uid="tally-cli-ready")
    worker_shutdown.connect(lambda **_: on_shutdown(), weak=False, dispatch_uid="tally-cli-stop")
    worker_shutting_down.connect(
        lambda **_: _requeue_after(app, shutdown_grace_s), weak=False, dispatch_uid="tally-grace"
    )


def _requeue_after(app: TallyCelery, grace_s: float) -> None:
    """In `grace_s`, re-queue the jobs still running (a daemon timer: it dies with us)."""

    def requeue() -> None:
        ids = app.watchdog().interrupt_all(JobRequeued)
        if ids:
            log.warning("shutdown grace of %.0f s over: re-queueing %s", grace_s, ", ".join(ids))

    timer = threading.Timer(grace_s, requeue)
    timer.daemon = True
    timer.start()


def run_flower(app: TallyCelery, *, address: str, port: int, basic_auth: str) -> None:
    """Run Flower on this app's broker until stopped; `basic_auth` is `user:password`."""
    # Through the environment, not argv: `ps` shows a process's arguments to every user.
    os.environ["FLOWER_BASIC_AUTH"] = basic_auth
    app.start(argv=["flower", f"--address={address}", f"--port={port}"])


def run_beat(app: TallyCelery, schedule_path: Path, loglevel: str) -> None:
    """Run the scheduler in this process."""
    schedule_path.parent.mkdir(parents=True, exist_ok=True)
    from tally.queue.beat import LeaderScheduler

    scheduler: Any = LeaderScheduler  # Celery accepts the class; its stubs say only str
    app.Beat(schedule=str(schedule_path), loglevel=loglevel, scheduler=scheduler).run()


class EmbeddedEngine:
    """A worker (thread pool) and the scheduler as threads of this process (SPEC §1)."""

    def __init__(self, app: TallyCelery, *, concurrency: int, schedule_path: Path) -> None:
        self._app = app
        schedule_path.parent.mkdir(parents=True, exist_ok=True)
        # Pool threads trace tasks against the *current* app; without this they use Celery's
        # fallback app, whose disabled result backend silently drops every result.
        app.finalize()
        app.set_current()
        app.set_default()
        self._worker = app.WorkController(
            pool="threads",
            concurrency=concurrency,
            queues=list(keys.QUEUES),
            hostname=f"tally-embedded@{socket.gethostname()}",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel=logging.WARNING,
        )
        self._worker_thread = threading.Thread(
            target=self._worker.start, name="tally-worker", daemon=True
        )
        self._beat: Any = beat.EmbeddedService(
            app, thread=True, schedule_filename=str(schedule_path), max_interval=1
        )

    def start(self) -> None:
        """Start the worker and the scheduler threads."""
        self._worker_thread.start()
        self._beat.start()

    @property
    def alive(self) -> bool:
        """True while the worker thread runs."""
        return self._worker_thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the scheduler, then let the worker finish its tasks and stop."""
        self._beat.stop()
        self._worker.stop(in_sighandler=False)
        self._worker_thread.join(timeout_s)


def worker_idle(app: TallyCelery, client: redis.Redis, queues: list[str]) -> bool:
    """True when this worker runs and holds no job, and its queues hold none ready."""
    from celery.worker import state

    if state.active_requests or state.reserved_requests or app.watchdog().running():
        return False
    ready = sum(broker_depths(client, queues).values())
    return ready + due_held(client, queues, time.time()) == 0
