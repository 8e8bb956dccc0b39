"""dbt routes (SPEC §12): the invocations and their nodes from the refresh log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from tally.api.deps import ReadAuthenticated, RuntimeDep
from tally.api.docs import COMMON, _Open, errors

router = APIRouter(prefix="/api/v1/dbt", tags=["dbt"])


class Invocation(_Open):
    """One dbt invocation: its command, job and counts per node status."""

    invocation_id: str
    command: str = Field(examples=["build"])
    job_id: str | None
    nodes: int
    statuses: dict[str, int] = Field(examples=[{"success": 1, "pass": 3}])
    started_at: float | None
    completed_at: float | None


class NodeRow(_Open):
    """What dbt did with one node (seed 001's analytics_refresh_log)."""

    node_id: str = Field(examples=["model.tally_events.daily_entity_events"])
    resource_type: str
    status: str = Field(examples=["success"])
    started_at: float | None
    completed_at: float | None
    execution_time_s: float | None
    rows_affected: int | None
    message: str | None


@router.get("/runs", dependencies=[ReadAuthenticated], response_model=list[Invocation],
            responses=errors(401, *COMMON))  # fmt: skip
def list_runs(
    runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """The latest dbt invocations, newest first."""
    return runtime.dbt.invocations(limit)


@router.get("/runs/{invocation_id}", dependencies=[ReadAuthenticated],
            response_model=list[NodeRow], responses=errors(401, *COMMON))  # fmt: skip
def run_nodes(runtime: RuntimeDep, invocation_id: str) -> list[dict[str, Any]]:
    """Every node of one invocation."""
    return runtime.dbt.nodes(invocation_id)
