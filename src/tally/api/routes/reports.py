"""Reports routes (SPEC §11): definitions, ad hoc and inline runs, runs and their files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import Field

from tally.api.deps import Authenticated, ReadAuthenticated, RuntimeDep
from tally.api.docs import COMMON, _Open, errors, job_links
from tally.reports.definitions import ReportIn

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class DeliveryOut(_Open):
    """One target of a run: where the file went, or why not yet."""

    kind: str = Field(examples=["email"], description="directory, email or url")
    target: dict[str, Any] = Field(description="the target (a URL without credentials)")
    status: str = Field(examples=["delivered"], description="pending, sending, delivered, failed")
    attempts: int
    location: str | None
    error: str | None
    delivered_at: float | None


class RunOut(_Open):
    """A run: its slot, its file (size, SHA-256, rows) and each delivery's outcome."""

    id: str
    report_id: int | None
    name: str
    slot: float | None = Field(description="the scheduled slot (epoch s); null for ad hoc runs")
    trigger: str = Field(examples=["schedule"], description="schedule, manual or inline")
    format: str = Field(examples=["pdf"])
    status: str = Field(
        examples=["done"], description="queued, rendering, delivering, done, partial, failed"
    )
    attempts: int
    rows: int | None
    size_bytes: int | None
    sha256: str | None
    duration_ms: float | None
    filename: str | None
    download_url: str | None
    note: str | None
    error: str | None
    deliveries: list[DeliveryOut]


class RunStarted(RunOut):
    """A run accepted: follow it at `status_url` (its job) or `run_url`."""

    job_id: str
    status_url: str
    result_url: str
    run_url: str


class ReportOut(_Open):
    """A report definition, its next slot and its last run."""

    id: int
    name: str
    source: dict[str, Any]
    format: str
    schedule: dict[str, Any] | None
    deliveries: list[dict[str, Any]]
    enabled: bool
    next_run_at: float | None
    last_run: RunOut | None


def _started(run: dict[str, Any]) -> JSONResponse:
    body = {**run, **job_links(run["job_id"]), "run_url": f"/api/v1/reports/runs/{run['id']}"}
    return JSONResponse(status_code=202, content=body)


@router.get("", dependencies=[ReadAuthenticated], response_model=list[ReportOut],
            responses=errors(401, *COMMON))  # fmt: skip
def list_reports(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Every report with its next slot and last run."""
    return runtime.reports.reports()


@router.post("", status_code=201, dependencies=[Authenticated], response_model=ReportOut,
             responses=errors(401, 409, *COMMON))  # fmt: skip
def create_report(runtime: RuntimeDep, body: ReportIn) -> dict[str, Any]:
    """Create a report (422 naming the field, nothing saved; 409 when the name is taken)."""
    return runtime.reports.create(body)


@router.post("/run", status_code=202, dependencies=[Authenticated],
             responses={202: {"model": RunStarted}, **errors(401, *COMMON)})  # fmt: skip
def run_inline(runtime: RuntimeDep, body: ReportIn) -> JSONResponse:
    """Run a definition given inline, without saving it (a job on the `reports` queue)."""
    return _started(runtime.reports.run_inline(body))


@router.get("/runs", dependencies=[ReadAuthenticated], response_model=list[RunOut],
            responses=errors(401, 404, *COMMON))  # fmt: skip
def list_runs(
    runtime: RuntimeDep,
    report: Annotated[str | None, Query(description="a report's id or name")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Runs, newest first (of one report, or all)."""
    return runtime.reports.runs(report, limit)


@router.get("/runs/{run_id}", dependencies=[ReadAuthenticated], response_model=RunOut,
            responses=errors(401, 404, *COMMON))  # fmt: skip
def get_run(runtime: RuntimeDep, run_id: str) -> dict[str, Any]:
    """One run with its deliveries."""
    return runtime.reports.run(run_id)


@router.get("/runs/{run_id}/file", dependencies=[ReadAuthenticated],
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the report's file"},
                       **errors(401, 404, *COMMON)})  # fmt: skip
def download(
    runtime: RuntimeDep,
    run_id: str,
    download: Annotated[bool, Query(description="save it, whatever its format")] = False,
) -> FileResponse:
    """The run's file, as rendered (404 before it is rendered, or after retention).

    HTML and PDF open in the browser; CSV and JSON are saved (`?download=true`: all saved).
    """
    found = runtime.reports.file(run_id)
    inline = not download and found.filename.endswith((".html", ".pdf"))
    return FileResponse(found.path, media_type=found.media_type, filename=found.filename,
                        content_disposition_type="inline" if inline else "attachment")  # fmt: skip


@router.get("/{ref}", dependencies=[ReadAuthenticated], response_model=ReportOut,
            responses=errors(401, 404, *COMMON))  # fmt: skip
def get_report(runtime: RuntimeDep, ref: str) -> dict[str, Any]:
    """One report by id or name."""
    return runtime.reports.report(ref)


@router.put("/{ref}", dependencies=[Authenticated], response_model=ReportOut,
            responses=errors(401, 404, 409, *COMMON))  # fmt: skip
def replace_report(runtime: RuntimeDep, ref: str, body: ReportIn) -> dict[str, Any]:
    """Replace a definition (its runs stay)."""
    return runtime.reports.replace(ref, body)


@router.delete("/{ref}", status_code=204, dependencies=[Authenticated],
               responses=errors(401, 404, *COMMON))  # fmt: skip
def delete_report(runtime: RuntimeDep, ref: str) -> Response:
    """Delete a definition (its runs stay until retention removes them)."""
    runtime.reports.delete(ref)
    return Response(status_code=204)


@router.post("/{ref}/run", status_code=202, dependencies=[Authenticated],
             responses={202: {"model": RunStarted}, **errors(401, 404, *COMMON)})  # fmt: skip
def run_report(runtime: RuntimeDep, ref: str) -> JSONResponse:
    """Run a saved report now, outside its schedule."""
    return _started(runtime.reports.run_now(ref))
