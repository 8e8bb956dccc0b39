"""The FastAPI application: the runtime, one router per capability, one error translation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from tally import __version__
from tally.api import errors
from tally.api.deps import check_startup
from tally.api.routes import analytics, events, health, jobs
from tally.dashboard import pages
from tally.dashboard.history import History
from tally.runtime import collector
from tally.runtime.runtime import Runtime

ROUTERS = (events.router, analytics.router, jobs.router, health.router, pages.router)


def create_api(runtime: Runtime, *, stop_on_shutdown: bool = True) -> FastAPI:
    """The API around an already-built runtime (ConfigError without tokens in Redis mode)."""
    check_startup(runtime.settings)

    history = History(lambda: pages.read_sample(runtime), runtime.settings.dashboard.sample_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.watch_redis)
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
    collector.register(runtime)
    app.state.api_tokens = runtime.settings.api.token_list()
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
