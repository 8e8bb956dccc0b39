"""Reports: definitions with their next run, runs with status and downloads, run now."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from tally.dashboard.access import can_change
from tally.dashboard.pages.common import act, back, page, rt, why
from tally.errors import TallyError
from tally.reports.definitions import ReportIn
from tally.runtime.runtime import Runtime

router = APIRouter(include_in_schema=False)
_LISTS = ("groups", "event_types")


def _source(form: dict[str, str]) -> dict[str, Any]:
    kind = form.get("source", "events")
    source: dict[str, Any] = {"kind": kind}
    fields = {
        "popularity": ("by", "groups", "limit", "as_of"),
        "trending": ("by", "groups", "limit", "as_of"),
        "events": ("dimension", "days", "event_types", "country"),
        "jobs": ("hours",),
        "sql": ("query",),
    }.get(kind, ())
    for name in fields:
        value = form.get(f"src_{name}", "").strip()
        if value:
            source[name] = (
                [v.strip() for v in value.split(",") if v.strip()] if name in _LISTS else value
            )
    return source


def _deliveries(form: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if form.get("to_directory") == "on":
        out.append({"kind": "directory", "path": form.get("directory", "").strip()})
    to = [a.strip() for a in form.get("email_to", "").split(",") if a.strip()]
    channel = form.get("email_channel", "").strip()
    if to or channel:
        target: dict[str, Any] = {"kind": "email", "to": to}
        if channel:
            target["channel"] = channel
        out.append(target)
    if form.get("url", "").strip():
        out.append({"kind": "url", "url": form["url"].strip()})
    return out


def report_from_form(form: dict[str, str]) -> ReportIn:
    """The report a create form describes (its JSON when given, else the fields)."""
    raw = form.get("json", "").strip()
    if raw:
        return ReportIn.model_validate(orjson.loads(raw))
    data: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "title": form.get("title", "").strip() or None,
        "source": _source(form),
        "format": form.get("format", "csv"),
        "deliveries": _deliveries(form),
    }
    if form.get("cron", "").strip():
        data["schedule"] = {"cron": form["cron"].strip(),
                            "timezone": form.get("timezone", "UTC").strip() or "UTC"}  # fmt: skip
    return ReportIn.model_validate(data)


async def _listing(request: Request, message: str | None, form: dict[str, str],
                   status_code: int = 200) -> Response:  # fmt: skip
    runtime = rt(request)
    try:
        reports = await run_in_threadpool(runtime.reports.reports)
        runs = await run_in_threadpool(lambda: runtime.reports.runs(limit=30))
        channels = await run_in_threadpool(runtime.alerts.channels)
    except TallyError as exc:
        reports, runs, channels, message = [], [], [], str(exc)
    email = [c["name"] for c in channels if c["kind"] == "email"]
    return page(request, "reports", status_code=status_code, reports=reports, runs=runs,
                email_channels=email, message=message, form=form)  # fmt: skip


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request) -> Response:
    return await _listing(request, None, {})


@router.post("/reports/new")
async def create_report(request: Request) -> Response:
    if not can_change(request):
        return RedirectResponse("/login", status_code=303)
    fields = {k: str(v) for k, v in (await request.form()).items()}
    try:
        definition = report_from_form(fields)
        saved = await run_in_threadpool(rt(request).reports.create, definition)
    except (ValidationError, TallyError, orjson.JSONDecodeError, ValueError) as exc:
        return await _listing(request, why(exc), fields, status_code=422)
    return back(f"/reports/{saved['id']}", f"report {saved['name']} created")


@router.get("/reports/{report_id}", response_class=HTMLResponse)
async def report_page(request: Request, report_id: int) -> Response:
    service = rt(request).reports
    try:
        report = await run_in_threadpool(service.report, report_id)
        runs = await run_in_threadpool(lambda: service.runs(report_id, 100))
    except TallyError as exc:
        return page(request, "missing", status_code=404, what=str(exc))
    keep = ("name", "title", "description", "source", "format", "schedule", "deliveries",
            "filename", "enabled")  # fmt: skip
    editable = {k: report[k] for k in keep if report.get(k) is not None}
    shown = orjson.dumps(editable, option=orjson.OPT_INDENT_2).decode()
    return page(request, "report", report=report, runs=runs, report_json=shown)


@router.post("/reports/{report_id}/edit")
async def edit_report(request: Request, report_id: int) -> Response:
    if not can_change(request):
        return RedirectResponse("/login", status_code=303)
    fields = {k: str(v) for k, v in (await request.form()).items()}
    try:
        definition = ReportIn.model_validate(orjson.loads(fields.get("json", "")))
        await run_in_threadpool(rt(request).reports.replace, report_id, definition)
    except (ValidationError, TallyError, orjson.JSONDecodeError) as exc:
        return back(f"/reports/{report_id}", f"not saved: {why(exc)}")
    return back(f"/reports/{report_id}", "report saved")


@router.post("/reports/{report_id}/run")
def run_report(request: Request, report_id: int) -> Response:
    def change(r: Runtime) -> tuple[str, str]:
        started = r.reports.run_now(report_id)
        return f"/reports/{report_id}", f"run {started['id'][:8]} queued"

    return act(request, f"/reports/{report_id}", change)


@router.post("/reports/{report_id}/delete")
def delete_report(request: Request, report_id: int) -> Response:
    def change(r: Runtime) -> tuple[str, str]:
        r.reports.delete(report_id)
        return "/reports", "report deleted (its runs stay until retention)"

    return act(request, f"/reports/{report_id}", change)
