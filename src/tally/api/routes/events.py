"""Event routes: ingest (single, JSON array, NDJSON), buffer, flush, store stats."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from tally.api.deps import Authenticated, RuntimeDep
from tally.api.docs import (
    COMMON,
    EVENT_SCHEMA,
    BufferView,
    Enqueued,
    ErrorBody,
    IngestResponse,
    errors,
    job_links,
)
from tally.errors import PayloadTooLarge
from tally.events.accept import parse_body
from tally.events.schema import Reason
from tally.ingest.ratelimit import ANONYMOUS
from tally.store.base import StoreStats

router = APIRouter(prefix="/api/v1", tags=["events"])

INGEST_DOC = """Append one event (a JSON object), a batch (a JSON array) or NDJSON to the buffer.

Each event is validated on its own: valid ones are kept and the response lists every rejected
one by index with its reason. 200 when anything was accepted; 422 when nothing was usable;
413 past the size limits; 429 with `Retry-After` past the token's events per second
(TALLY_INGEST_RATE_LIMIT); 503 when the buffer (Redis) is unreachable — then nothing was kept.
"""


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("body", Reason.TOO_LARGE.value, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge("body", Reason.TOO_LARGE.value, f"body larger than {limit} bytes")
    return bytes(body)


@router.post(
    "/events",
    description=INGEST_DOC,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                # One event, or a JSON array of them (components.schemas.Event, set by app.py)
                "application/json": {"schema": EVENT_SCHEMA},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
    dependencies=[Authenticated],
    responses={
        200: {"model": IngestResponse, "description": "at least one event was accepted"},
        422: {
            "model": IngestResponse | ErrorBody,
            "description": "nothing was usable: every event's rejection, or the body's",
        },
        **errors(401, 413, 429, 503),
    },
)
async def post_events(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Ingest events."""
    body = await _read_body(request, runtime.settings.ingest.max_body_bytes)
    items = parse_body(body, request.headers.get("content-type"))
    client_id = getattr(request.state, "client_id", ANONYMOUS)
    result = await run_in_threadpool(runtime.events.ingest, items, client_id)
    status = 422 if result.accepted.accepted == 0 else 200
    return JSONResponse(status_code=status, content=result.as_dict())


@router.get("/events/buffer", responses={200: {"model": BufferView}, **errors(503)})
def get_buffer(runtime: RuntimeDep) -> dict[str, Any]:
    """Events waiting in the buffer and the age of the oldest."""
    return runtime.events.buffer_info()


@router.post(
    "/events/flush",
    dependencies=[Authenticated],
    responses={
        200: {"description": "with wait: the flush's report"},
        202: {"model": Enqueued, "description": "the flush's job id and where to follow it"},
        **errors(401, *COMMON, 502, 504),
    },
)
def post_flush(
    runtime: RuntimeDep,
    wait: bool = Query(default=False, description="wait for the flush and return its report"),
    timeout_s: float = Query(default=60.0, gt=0, le=600),
) -> JSONResponse:
    """Flush the buffer into the store now: 202 with its job id, or 200 with its report."""
    result = runtime.store.flush(wait=wait, timeout_s=timeout_s)
    if wait:
        return JSONResponse(status_code=200, content=result)
    return JSONResponse(status_code=202, content={**result, **job_links(result["job_id"])})


@router.get("/store/stats", responses={200: {"model": StoreStats}, **errors(*COMMON, 502, 504)})
def get_store_stats(
    runtime: RuntimeDep, timeout_s: float = Query(default=30.0, gt=0, le=600)
) -> dict[str, Any]:
    """Distinct events stored, oldest/newest created_at, bytes on disk (computed by the owner)."""
    return runtime.store.stats(timeout_s)
