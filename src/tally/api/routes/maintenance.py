"""Maintenance routes (SPEC §13): catalog, query and task statistics, processes, backups."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tally.api.deps import Authenticated, ReadAuthenticated, RuntimeDep
from tally.api.docs import COMMON, Enqueued, _Open, errors, job_links

router = APIRouter(prefix="/api/v1", tags=["maintenance"])


class CatalogRow(_Open):
    """One table of the store (seed 001's analytics_catalog)."""

    database_name: str
    table_name: str
    engine: str
    rows: int | None
    bytes_on_disk: int | None
    parts: int | None
    partitions: int | None
    last_modified: float | None
    refreshed_at: float


class QueryStat(_Open):
    """A normalised query over the hours asked: calls, durations, rows read."""

    query_hash: str
    query: str
    calls: int
    total_ms: float
    max_ms: float
    p95_ms: float
    read_rows: int


class BackupOut(_Open):
    """A complete backup."""

    id: str = Field(examples=["20261201-020000-full"])
    kind: str = Field(examples=["full"], description="full, or incremental on `base`")
    base: str | None
    created_at: float
    finished_at: float
    events: int
    store_bytes: int
    metadata_bytes: int


class BackupIn(BaseModel):
    """What to back up now."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["full", "incremental"] = "incremental"


class RestoreIn(BaseModel):
    """Which backup to restore, and whether to go on while events wait to be stored."""

    model_config = ConfigDict(extra="forbid")
    force: bool = False


def _started(job_id: str) -> JSONResponse:
    return JSONResponse(status_code=202, content={"job_id": job_id, "status": "queued",
                                                  **job_links(job_id)})  # fmt: skip


@router.get("/catalog", dependencies=[ReadAuthenticated], response_model=list[CatalogRow],
            responses=errors(401, *COMMON))  # fmt: skip
def get_catalog(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The store's tables as `maintenance.refresh_catalog` last saw them, largest first."""
    return runtime.maintenance.catalog()


@router.get("/maintenance/query-stats", dependencies=[ReadAuthenticated],
            response_model=list[QueryStat], responses=errors(401, *COMMON))  # fmt: skip
def get_query_stats(
    runtime: RuntimeDep,
    by: Annotated[Literal["slowest", "frequent"], Query()] = "slowest",
    hours: Annotated[float, Query(gt=0, le=24 * 31)] = 24,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[dict[str, Any]]:
    """The slowest or most frequent normalised queries of the last `hours`."""
    return runtime.maintenance.query_stats(hours=hours, by=by, limit=limit)


@router.get("/monitoring/tasks", dependencies=[ReadAuthenticated],
            responses=errors(401, *COMMON))  # fmt: skip
def get_task_stats(
    runtime: RuntimeDep, hours: Annotated[float, Query(gt=0, le=24 * 31)] = 24
) -> list[dict[str, Any]]:
    """Per task and hour: runs, failures, retries, p50/p95 durations (seed 001)."""
    return runtime.maintenance.task_stats(hours)


@router.get("/monitoring/processes", dependencies=[ReadAuthenticated],
            responses=errors(401, *COMMON))  # fmt: skip
def get_processes(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Each Tally process's latest CPU, memory, open files and threads."""
    return runtime.maintenance.processes()


@router.get("/backups", dependencies=[ReadAuthenticated], response_model=list[BackupOut],
            responses=errors(401, *COMMON))  # fmt: skip
def list_backups(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Complete backups, newest first."""
    return runtime.maintenance.backups()


@router.post("/backups", status_code=202, dependencies=[Authenticated],
             responses={202: {"model": Enqueued}, **errors(401, *COMMON)})  # fmt: skip
def create_backup(runtime: RuntimeDep, body: Annotated[BackupIn, Body()]) -> JSONResponse:
    """Back up now (a job of high priority on the store's owner)."""
    return _started(runtime.maintenance.start_backup(body.kind))


@router.post("/backups/{backup_id}/restore", status_code=202, dependencies=[Authenticated],
             responses={202: {"model": Enqueued}, **errors(401, 404, *COMMON)})  # fmt: skip
def restore_backup(
    runtime: RuntimeDep, backup_id: str, body: Annotated[RestoreIn, Body()]
) -> JSONResponse:
    """Restore a backup over the store and the metadata DB (refused during ingest)."""
    return _started(runtime.maintenance.start_restore(backup_id, force=body.force))
