"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tally import __version__
from tally.api import analytics, errors, events, jobs
from tally.api.auth import check_startup
from tally.dashboard import pages
from tally.dashboard.history import History
from tally.runtime import metrics as state_metrics
from tally.runtime.core import Runtime


def create_api(runtime: Runtime, *, stop_on_shutdown: bool = True) -> FastAPI:
    """The API around an already-built runtime (ConfigError without tokens in Redis mode)."""
    check_startup(runtime.settings)

    history = History(lambda: pages.read_sample(runtime), runtime.settings.dashboard_sample_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        history.start()
        yield
        history.stop()
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
    state_metrics.register(runtime)
    app.state.api_tokens = runtime.settings.api_token_list()
    errors.install(app)
    app.include_router(events.router)
    app.include_router(analytics.router)
    app.include_router(jobs.router)
    app.include_router(pages.router)

    @app.get(
        "/api/v1/health",
        tags=["health"],
        responses={
            200: {"description": "healthy"},
            503: {"description": "degraded: the failing checks say why"},
        },
    )
    async def health(request: Request) -> JSONResponse:
        """Redis, store, workers and buffer; 200 when healthy, 503 (with reasons) when not."""
        ok, checks = await run_in_threadpool(request.app.state.runtime.health)
        body: dict[str, Any] = {"status": "ok" if ok else "degraded", **checks}
        return JSONResponse(status_code=200 if ok else 503, content=body)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics of this process."""
        # Scrape-time gauges read Redis: off the event loop. They skip what Redis cannot say.
        body = await run_in_threadpool(generate_latest)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
