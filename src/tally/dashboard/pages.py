"""Dashboard pages: overview, jobs, queues and workers, schedules, analytics, buffer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import REGISTRY

from tally.dashboard import charts
from tally.dashboard.access import COOKIE, can_change, can_read, token_accepted
from tally.dashboard.history import History, Sample, per_minute
from tally.errors import NotFound, TallyError
from tally.jobs.record import Status
from tally.queue.jobs import public
from tally.runtime.core import Runtime

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TOP_GROUPS = 6  # groups drawn per analytics page; the API serves them all


def _rt(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    if not can_read(request):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    context |= {"can_change": can_change(request), "page": name}
    return templates.TemplateResponse(request, f"{name}.html", context, status_code=status_code)


def _back(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?flash={quote(message)}", status_code=303)


def _act(request: Request, page: str, change: Callable[[Runtime], tuple[str, str]]) -> Response:
    """Make a change for a logged-in user; go to the page it names, saying what happened."""
    if not can_change(request):
        return RedirectResponse("/login", status_code=303)
    try:
        target, message = change(_rt(request))
    except TallyError as exc:
        return _back(page, str(exc))  # the refusal, shown where the user was
    return _back(target, message)


def read_sample(runtime: Runtime) -> Sample:
    """The overview's figures now (for the last-hour charts)."""
    queues = runtime.queues()
    accepted = REGISTRY.get_sample_value("tally_events_accepted_total") or 0.0
    return Sample(
        at=time.time(),
        waiting_jobs=sum(q["pending"] + q["scheduled"] for q in queues),
        running_jobs=sum(q["running"] for q in queues),
        buffered_events=int(runtime.buffer_info()["events"]),
        accepted_events=accepted,
        finished_jobs=sum(q["succeeded_24h"] + q["failed_24h"] for q in queues),
    )


# --- login --------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": next if next.startswith("/") else "/", "error": None}
    )


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    if not token_accepted(request, token):
        context = {"next": target, "error": "That token is not accepted."}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse(target, status_code=303)
    # HttpOnly: page scripts cannot read it; SameSite=Strict: other sites cannot post with it.
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=12 * 3600)
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


# --- overview -----------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    rt = _rt(request)
    ok, checks = await run_in_threadpool(rt.health)
    history: History = request.app.state.history
    samples = history.samples()
    lines = {
        "Jobs waiting": charts.line([(s.at, s.waiting_jobs) for s in samples], title="waiting"),
        "Events accepted per minute": charts.line(
            per_minute(samples, lambda s: s.accepted_events), title="events per minute"
        ),
        "Jobs finished per minute": charts.line(
            per_minute(samples, lambda s: s.finished_jobs), title="jobs per minute"
        ),
        "Events in the buffer": charts.line(
            [(s.at, s.buffered_events) for s in samples], title="buffered events"
        ),
    }
    return _page(request, "overview", ok=ok, checks=checks, lines=lines)


# --- jobs ---------------------------------------------------------------------------
@router.get("/jobs", response_class=HTMLResponse)
async def jobs_page(
    request: Request,
    status: Annotated[str, Query()] = "",
    task: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    rt = _rt(request)
    chosen = Status(status) if status in {s.value for s in Status} else None
    rows = await run_in_threadpool(rt.jobs, chosen, task or None, 200)
    tasks = sorted(t["name"] for t in rt.tasks())
    return _page(
        request,
        "jobs",
        jobs=[public(r) for r in rows],
        statuses=[s.value for s in Status],
        status=status,
        task=task,
        tasks=tasks,
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, job_id: str) -> Response:
    try:
        record = await run_in_threadpool(_rt(request).job, job_id)
    except NotFound as exc:
        return _page(request, "missing", status_code=404, message=str(exc))
    return _page(request, "job", job=public(record), final=record.status.final)


@router.post("/jobs/{job_id}/abort")
def abort_job(request: Request, job_id: str) -> Response:
    page = f"/jobs/{job_id}"
    return _act(request, page, lambda rt: (page, f"abort requested: {rt.abort(job_id)}"))


@router.post("/jobs/{job_id}/retry")
def retry_job(request: Request, job_id: str) -> Response:
    def retry(rt: Runtime) -> tuple[str, str]:
        return f"/jobs/{rt.retry(job_id).job_id}", f"retry of {job_id}"

    return _act(request, f"/jobs/{job_id}", retry)


# --- queues, workers, schedules --------------------------------------------------------
@router.get("/queues", response_class=HTMLResponse)
async def queues_page(request: Request) -> Response:
    rt = _rt(request)
    queues = await run_in_threadpool(rt.queues)
    workers = await run_in_threadpool(rt.workers)
    depth = charts.bars(
        [(q["name"], float(q["pending"] + q["scheduled"])) for q in queues], title="waiting"
    )
    return _page(request, "queues", queues=queues, workers=workers, depth=depth)


@router.get("/schedules", response_class=HTMLResponse)
def schedules_page(request: Request) -> Response:
    return _page(request, "schedules", schedule=_rt(request).schedule())


# --- analytics ----------------------------------------------------------------------
@router.get("/analytics", response_class=HTMLResponse)
async def analytics_page(
    request: Request, by: Annotated[str, Query(pattern="^(country|category)$")] = "country"
) -> Response:
    rt = _rt(request)
    try:
        meta = await run_in_threadpool(rt.analytics_metadata)
        pop = await run_in_threadpool(rt.analytics_results, "popularity", by, None, 10)
        trend = await run_in_threadpool(rt.analytics_results, "trending", by, None, 10)
    except NotFound as exc:
        return _page(request, "analytics", by=by, meta=None, sections=[], message=str(exc))
    sections = []
    for title, payload, key in (("Popular", pop, "score"), ("Trending", trend, "trend_score")):
        groups = sorted(payload["groups"].items(), key=lambda g: -sum(r[key] for r in g[1]))
        for group, rows in groups[:TOP_GROUPS]:
            chart = charts.bars(
                [(f"{r['entity_type']}:{r['entity_id']}", float(r[key])) for r in rows],
                title=f"{title} in {group}",
            )
            sections.append({"title": title, "group": group, "rows": rows, "key": key,
                             "chart": chart})  # fmt: skip
    return _page(request, "analytics", by=by, meta=meta, sections=sections, message=None)


@router.post("/analytics/run")
def analytics_run(request: Request, as_of: Annotated[str, Form()] = "") -> Response:
    def run(rt: Runtime) -> tuple[str, str]:
        started = rt.analytics_run(as_of.strip() or None, False, 0.0)
        return f"/jobs/{started['job_id']}", "analytics run started"

    return _act(request, "/analytics", run)


# --- buffer -------------------------------------------------------------------------
@router.get("/buffer", response_class=HTMLResponse)
async def buffer_page(request: Request) -> Response:
    rt = _rt(request)
    try:
        info = await run_in_threadpool(rt.buffer_info)
    except TallyError as exc:
        info = {"status": "unavailable", "error": str(exc)}
    rejected = sorted(
        (
            (s.labels["reason"], s.value)
            for metric in REGISTRY.collect()
            if metric.name == "tally_events_rejected"
            for s in metric.samples
            if s.name.endswith("_total")
        ),
        key=lambda r: -r[1],
    )
    chart = charts.bars([(r, float(v)) for r, v in rejected], title="rejected by reason")
    return _page(request, "buffer", info=info, rejected=rejected, chart=chart)


@router.post("/buffer/flush")
def flush_now(request: Request) -> Response:
    def flush(rt: Runtime) -> tuple[str, str]:
        return "/buffer", f"flush queued: job {rt.flush(False, 0.0)['job_id']}"

    return _act(request, "/buffer", flush)
