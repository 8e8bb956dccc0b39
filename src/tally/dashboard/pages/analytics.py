"""Analytics: popularity and trending per country or category, with charts, and re-run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from tally.dashboard import charts
from tally.dashboard.pages.common import act, page, rt
from tally.errors import NotFound
from tally.runtime.runtime import Runtime

router = APIRouter(include_in_schema=False)
TOP_GROUPS = 6  # groups drawn per analytics page; the API serves them all


@router.get("/analytics", response_class=HTMLResponse)
async def analytics_page(
    request: Request, by: Annotated[str, Query(pattern="^(country|category)$")] = "country"
) -> Response:
    analytics = rt(request).analytics
    try:
        meta = await run_in_threadpool(analytics.metadata)
        pop = await run_in_threadpool(analytics.results, "popularity", by, None, 10)
        trend = await run_in_threadpool(analytics.results, "trending", by, None, 10)
    except NotFound as exc:
        return page(request, "analytics", by=by, meta=None, sections=[], message=str(exc))
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
    return page(request, "analytics", by=by, meta=meta, sections=sections, message=None)


@router.post("/analytics/run")
def analytics_run(request: Request, as_of: Annotated[str, Form()] = "") -> Response:
    def run(r: Runtime) -> tuple[str, str]:
        started = r.analytics.run(as_of.strip() or None, wait=False, timeout_s=0.0)
        return f"/jobs/{started['job_id']}", "analytics run started"

    return act(request, "/analytics", run)
