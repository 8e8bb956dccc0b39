"""The FastAPI application: the runtime, one router per capability, one error translation."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from tally import __version__
from tally.api import errors
from tally.api.deps import check_startup
from tally.api.json_bodies import JsonBodies
from tally.api.routes import (
    alerts,
    analytics,
    compat_arq,
    compat_vibe,
    dbt,
    events,
    health,
    jobs,
    maintenance,
    reports,
    text,
)
from tally.dashboard import pages
from tally.dashboard.history import History
from tally.events.schema import Event
from tally.infra.periodic import Periodic
from tally.runtime import collector
from tally.runtime.runtime import Runtime
from tally.settings import Mode

log = logging.getLogger("tally.api")

ROUTERS = (
    events.router,
    analytics.router,
    jobs.router,
    alerts.router,
    reports.router,
    dbt.router,
    maintenance.router,
    text.router,
    compat_arq.router,
    compat_vibe.router,
    health.router,
    pages.router,
)


def create_api(runtime: Runtime, *, stop_on_shutdown: bool = True) -> FastAPI:
    """The API around an already-built runtime (ConfigError without tokens in Redis mode)."""
    check_startup(runtime.settings)

    history = History(lambda: pages.read_sample(runtime), runtime.settings.dashboard.sample_s)
    # An API process has no heartbeat: it records its own CPU, memory and files (Redis mode;
    # embedded, monitoring.collect records the one process).
    own = f"api-{runtime.settings.api.host}:{runtime.settings.api.port}-{os.getpid()}"
    recorder = Periodic(
        "tally-api-metrics", lambda: runtime.maintenance.record_self(own, "api"),
        runtime.settings.maintenance.monitoring_interval_s, log=log, first_wait=False,
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.watch_redis)
        history.start()
        if runtime.mode is Mode.REDIS:
            recorder.start()
        yield
        history.stop()
        if runtime.mode is Mode.REDIS:
            recorder.stop()
        if stop_on_shutdown:
            await run_in_threadpool(runtime.stop)

    app = FastAPI(
        title="Tally",
        version=__version__,
        description="Product-analytics events in, analytics and jobs out.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.history = history
    collector.register(runtime)
    app.state.api_tokens = runtime.settings.api.token_list()
    errors.install(app)
    _document_event(app)
    app.add_middleware(JsonBodies)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _document_event(app: FastAPI) -> None:
    """Put the event's schema (tally.events.schema.Event) in /openapi.json's components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {})["Event"] = (
                Event.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
