"""Maintenance: the store's catalog, query and task statistics, processes, backups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from tally.dashboard.pages.common import act, page, rt
from tally.errors import TallyError
from tally.runtime.runtime import Runtime

router = APIRouter(include_in_schema=False)


@router.get("/maintenance", response_class=HTMLResponse)
async def maintenance_page(request: Request) -> Response:
    service = rt(request).maintenance
    found: dict[str, Any] = {"catalog": [], "slowest": [], "frequent": [], "tasks": [],
                             "processes": [], "backups": []}  # fmt: skip
    message = None
    try:
        found["catalog"] = await run_in_threadpool(service.catalog)
        found["slowest"] = await run_in_threadpool(lambda: service.query_stats(by="slowest"))
        found["frequent"] = await run_in_threadpool(lambda: service.query_stats(by="frequent"))
        found["tasks"] = await run_in_threadpool(service.task_stats)
        found["processes"] = await run_in_threadpool(service.processes)
        found["backups"] = await run_in_threadpool(service.backups)
    except TallyError as exc:
        message = str(exc)
    return page(request, "maintenance", message=message, **found)


@router.post("/maintenance/backup")
def backup_now(request: Request, kind: str = Form("incremental")) -> Response:
    def change(r: Runtime) -> tuple[str, str]:
        job_id = r.maintenance.start_backup(kind)
        return "/maintenance", f"{kind} backup started (job {job_id[:12]})"

    return act(request, "/maintenance", change)
