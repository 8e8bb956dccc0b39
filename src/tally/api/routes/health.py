"""Health and metrics: what an orchestrator and Prometheus read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tally.api.deps import RuntimeDep
from tally.api.docs import HealthView

router = APIRouter(tags=["health"])


@router.get(
    "/api/v1/health",
    responses={
        200: {"model": HealthView, "description": "healthy"},
        503: {"model": HealthView, "description": "degraded: the failing checks say why"},
    },
)
async def health(runtime: RuntimeDep) -> JSONResponse:
    """Redis, store, workers and buffer; 200 when healthy, 503 (with reasons) when not."""
    ok, checks = await run_in_threadpool(runtime.health)
    body: dict[str, Any] = {"status": "ok" if ok else "degraded", **checks}
    return JSONResponse(status_code=200 if ok else 503, content=body)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    # Scrape-time gauges read Redis: off the event loop. They skip what Redis cannot say.
    body = await run_in_threadpool(generate_latest)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
