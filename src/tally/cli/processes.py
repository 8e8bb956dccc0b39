"""The processes: `tally api`, `tally dev`, `tally worker`, `tally beat`, `tally flower`."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Annotated

import typer
import uvicorn

from tally import keys
from tally.cli.common import (
    err_console,
    fail,
    friendly_errors,
    load_settings,
    print_banner,
    setup_logging,
)
from tally.cli.remote import announce_server, forget_server
from tally.errors import StoreLocked, StoreUnavailable
from tally.runtime import collector
from tally.runtime.runtime import Runtime, embedded_runtime
from tally.settings import Mode, Settings


def api(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """Serve the REST API (in embedded mode, the all-in-one process)."""
    settings = load_settings()
    setup_logging(settings.log.level, settings.log.format)
    print_banner(settings)
    from tally.api.app import create_api
    from tally.api.deps import check_startup

    with friendly_errors():
        check_startup(settings)
        if settings.mode is Mode.EMBEDDED:
            runtime = embedded_runtime(settings, startup_jobs=True, announce=False)
        else:
            runtime = Runtime(settings, run_tasks=False)
        api_app = create_api(runtime)
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host
    err_console.print(
        f"[bold]Dashboard:[/] http://{shown}:{bind_port}/  ·  API: http://{shown}:{bind_port}/docs"
    )
    local = settings.mode is Mode.EMBEDDED  # this process owns the store: tell the CLI
    if local:
        announce_server(settings, f"http://{shown}:{bind_port}")
    try:
        uvicorn.run(
            api_app,
            host=bind_host,
            port=bind_port,
            log_level=settings.log.level.lower(),
            access_log=False,
        )
    finally:
        if local:
            forget_server(settings)


def dev(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """All-in-one: API, worker and scheduler in this process, owning the embedded store."""
    settings = load_settings()
    if settings.mode is not Mode.EMBEDDED:
        fail("`tally dev` is the embedded all-in-one; unset REDIS_URL or run api/worker/beat")
    api(host=host, port=port)


def worker(
    queues: Annotated[
        str | None, typer.Option("-Q", "--queues", help="comma-separated queues (default: all)")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "-c",
            "--concurrency",
            min=1,
            help="jobs at once (default: ARQ_MAX_JOBS, else WORKER_CONCURRENCY_<QUEUE> "
            "for one queue, else 4)",
        ),
    ] = None,
    pool: Annotated[str | None, typer.Option(help="threads|solo|prefork")] = None,
    name: Annotated[str | None, typer.Option(help="worker name")] = None,
    burst: Annotated[
        bool | None,
        typer.Option(help="exit once the queues are empty and the jobs done (ARQ_BURST_MODE)"),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="serve Prometheus metrics on this port (one port per worker process)",
            envvar="TALLY_METRICS_PORT",
            min=1,
            max=65535,
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="address the metrics port listens on", envvar="TALLY_METRICS_HOST")
    ] = "127.0.0.1",
) -> None:
    """Run a worker (Redis mode). With the embedded store it is the store's one owner."""
    settings = load_settings()
    setup_logging(settings.log.level, settings.log.format)
    print_banner(settings)
    if settings.mode is Mode.EMBEDDED:
        fail("no REDIS_URL: embedded mode runs its worker inside `tally dev`")
    selected = [q.strip() for q in (queues or ",".join(keys.QUEUES)).split(",") if q.strip()]
    unknown = sorted(set(selected) - set(keys.QUEUES))
    if unknown:
        fail(f"--queues: unknown queue(s) {', '.join(unknown)}; known: {', '.join(keys.QUEUES)}")
    chosen_pool = pool or "threads"
    jobs_at_once = concurrency or worker_concurrency(settings, selected)
    burst = settings.processes.burst if burst is None else burst
    if settings.store.kind == "chdb" and chosen_pool == "prefork":
        fail("--pool prefork: the embedded chDB store needs one process; use threads or solo")
    if metrics_port is not None and chosen_pool == "prefork":
        # Pool children would count jobs in registries the port never sees.
        fail("--metrics-port counts jobs of threads/solo pools; run one worker per port")
    with friendly_errors():
        runtime = Runtime(settings, run_tasks=True)
    hostname = name or f"tally-{os.getpid()}@{socket.gethostname()}"
    if keys.EVENTS_QUEUE in selected:
        try:
            runtime.owner.store()  # open now: a locked store is an error at start, not later
        except StoreLocked as exc:
            fail(str(exc))
        except StoreUnavailable as exc:
            # A ClickHouse server that is down now may be up later: its tasks retry, then
            # the `database` breaker opens and flushes wait (the events stay in Redis).
            logging.getLogger("tally.worker").warning("store not reachable at start: %s", exc)
    runtime.start_worker_services(hostname, selected, jobs_at_once, chosen_pool, burst=burst)
    if metrics_port is not None:
        with friendly_errors():
            collector.serve(runtime, metrics_host, metrics_port)
    from tally.queue.engine import run_worker

    try:
        code = run_worker(
            runtime.app,
            queues=selected,
            concurrency=jobs_at_once,
            pool=chosen_pool,
            loglevel=settings.log.level,
            hostname=hostname,
            shutdown_grace_s=settings.jobs.shutdown_grace_s,
            quiet=settings.log.format == "json",
            on_ready=lambda: runtime.on_worker_ready(selected),
        )
    finally:
        runtime.stop()
    raise typer.Exit(code)


def worker_concurrency(settings: Settings, queues: list[str]) -> int:
    """A worker's jobs at once when -c is not given: ARQ_MAX_JOBS, one queue's own, or 4."""
    if settings.processes.max_jobs is not None:
        return settings.processes.max_jobs
    if len(queues) == 1:
        return settings.processes.concurrency(queues[0])
    return 4


def flower(
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="default: FLOWER_PORT, else 5555")
    ] = None,
    address: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """Start Flower on Tally's broker, behind basic auth (TALLY_FLOWER_USER/PASSWORD)."""
    settings = load_settings()
    setup_logging(settings.log.level, settings.log.format)
    if settings.mode is Mode.EMBEDDED:
        fail("no REDIS_URL: Flower watches a Redis broker; embedded jobs are in `tally jobs`")
    password = settings.flower.password.get_secret_value()
    if not password:
        # Flower shows every job's arguments and can revoke them: never open by default.
        fail("TALLY_FLOWER_PASSWORD is empty: set it (and TALLY_FLOWER_USER) first")
    if "," in password or ":" in settings.flower.user:
        fail("TALLY_FLOWER_PASSWORD may not contain ',' nor TALLY_FLOWER_USER ':'")
    from tally.queue.engine import run_flower

    runtime = Runtime(settings, run_tasks=False)
    auth = f"{settings.flower.user}:{password}"
    run_flower(runtime.app, address=address, port=port or settings.flower.port, basic_auth=auth)


def beat() -> None:
    """Run the scheduler (Redis mode): flushes every TALLY_FLUSH_INTERVAL_S."""
    settings = load_settings()
    setup_logging(settings.log.level, settings.log.format)
    print_banner(settings)
    if settings.mode is Mode.EMBEDDED:
        fail("no REDIS_URL: embedded mode runs its scheduler inside `tally dev`")
    from tally.queue.engine import run_beat

    runtime = Runtime(settings, run_tasks=False)
    runtime.watch_redis()
    run_beat(runtime.app, settings.data_dir / "beat-schedule", settings.log.level)


def metrics(
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="default: PROMETHEUS_PORT")
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """Serve the deployment's gauges for Prometheus (seed 001's metrics process)."""
    settings = load_settings()
    setup_logging(settings.log.level, settings.log.format)
    if settings.mode is Mode.EMBEDDED:
        fail("no REDIS_URL: the embedded all-in-one serves /metrics on its API port")
    chosen = port or settings.processes.prometheus_port
    if chosen is None:
        fail("--port: where to listen (or set PROMETHEUS_PORT)")
    with friendly_errors():
        runtime = Runtime(settings, run_tasks=False)
        collector.serve(runtime, host, chosen)
    err_console.print(f"[bold]Metrics:[/] http://{host}:{chosen}/metrics")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
