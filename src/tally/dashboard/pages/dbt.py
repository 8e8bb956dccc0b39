"""dbt: invocations and their nodes, and the generated docs (behind the dashboard's login)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from tally.dashboard.access import can_read
from tally.dashboard.pages.common import page, rt
from tally.errors import TallyError

router = APIRouter(include_in_schema=False)


@router.get("/dbt", response_class=HTMLResponse)
async def dbt_page(request: Request, run: str | None = None) -> Response:
    service = rt(request).dbt
    try:
        runs = await run_in_threadpool(service.invocations)
        chosen = run or (runs[0]["invocation_id"] if runs else None)
        nodes = [] if chosen is None else await run_in_threadpool(service.nodes, chosen)
        message = None
    except TallyError as exc:
        runs, nodes, chosen, message = [], [], None, str(exc)
    docs = service.docs_file("index.html") is not None
    return page(request, "dbt", runs=runs, nodes=nodes, chosen=chosen, message=message,
                docs=docs, project=str(service.project))  # fmt: skip


@router.get("/dbt/docs")
def dbt_docs_root() -> Response:
    return RedirectResponse("/dbt/docs/index.html", status_code=307)


@router.get("/dbt/docs/{name}")
def dbt_docs(request: Request, name: str) -> Response:
    if not can_read(request):
        return RedirectResponse("/login?next=/dbt/docs/index.html", status_code=303)
    found = rt(request).dbt.docs_file(name)
    if found is None:
        what = "no dbt docs yet: run `tally enqueue dbt.docs_generate --wait`"
        return page(request, "missing", status_code=404, what=what)
    return FileResponse(found)
