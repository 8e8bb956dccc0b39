"""Analytics routes: trigger a run, read the published results and metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tally.api.deps import Authenticated, RuntimeDep
from tally.api.docs import (
    COMMON,
    JSON_NUMBER,
    AnalyticsMetadata,
    AnalyticsResults,
    Enqueued,
    errors,
    job_links,
)

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

By = Annotated[
    Literal["country", "category"], Query(description="group results by country or category")
]
Group = Annotated[str | None, Query(max_length=64, description="one group, e.g. FR or music")]
Limit = Annotated[int | None, Query(ge=1, le=10_000, description="rows per group")]
AsOf = Annotated[
    datetime | None,
    Query(description="a backfill's results (a past run's as_of); default: the live ones"),
]


class RunRequest(BaseModel):
    """What to run: as of when (default now; any past time, for backfills)."""

    model_config = ConfigDict(extra="forbid")
    as_of: str | None = Field(
        default=None,
        examples=["2026-11-21T02:00:00Z"],
        json_schema_extra={"format": "date-time"},
        description="ISO 8601; not in the future",
    )
    wait: StrictBool = Field(default=False, description="wait for the run and return its metadata")
    publish: StrictBool = Field(
        default=False,
        description="a run as of a past time replaces the live results (default: its own keys, "
        "read with ?as_of=)",
    )
    timeout_s: Annotated[float, Field(gt=0, le=3600), JSON_NUMBER] = 120.0


@router.post(
    "/run",
    dependencies=[Authenticated],
    responses={
        200: {"description": "with wait: the run's metadata"},
        202: {"model": Enqueued, "description": "the run's job id and where to follow it"},
        **errors(401, *COMMON, 502, 504),
    },
)
def post_run(
    runtime: RuntimeDep, body: Annotated[RunRequest | None, Body()] = None
) -> JSONResponse:
    """Start an analytics run; 202 with its job id, or 200 with the metadata when waiting."""
    req = body or RunRequest()
    result = runtime.analytics.run(
        req.as_of, wait=req.wait, timeout_s=req.timeout_s, publish=req.publish
    )
    if req.wait:
        return JSONResponse(status_code=200, content=result)
    return JSONResponse(status_code=202, content={**result, **job_links(result["job_id"])})


@router.get("/popularity", responses={200: {"model": AnalyticsResults}, **errors(404, *COMMON)})
def get_popularity(
    runtime: RuntimeDep,
    by: By = "country",
    group: Group = None,
    limit: Limit = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Top entities by decayed weighted score over the last 24 h, per group."""
    return runtime.analytics.results("popularity", by, group, limit, as_of=as_of)


@router.get("/trending", responses={200: {"model": AnalyticsResults}, **errors(404, *COMMON)})
def get_trending(
    runtime: RuntimeDep,
    by: By = "country",
    group: Group = None,
    limit: Limit = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Entities rising against their previous 48 h (weighted: recent vs expected), per group."""
    return runtime.analytics.results("trending", by, group, limit, as_of=as_of)


@router.get("/metadata", responses={200: {"model": AnalyticsMetadata}, **errors(404, 503)})
def get_metadata(runtime: RuntimeDep, as_of: AsOf = None) -> dict[str, Any]:
    """The last run: when, as of when, events scanned, duration, parameters, status."""
    return runtime.analytics.metadata(as_of=as_of)
