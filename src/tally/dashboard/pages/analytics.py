"""Analytics: popularity and trending per country or category, with charts, and re-run."""

from __future__ import annotations

from typing import Annotated, Any

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
    request: Request,
    by: Annotated[str, Query(pattern="^(country|category)$")] = "country",
    group: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    analytics = rt(request).analytics
    empty: dict[str, Any] = {"by": by, "group": group, "groups": [], "top": TOP_GROUPS}
    try:
        meta = await run_in_threadpool(analytics.metadata)
        pop = await run_in_threadpool(analytics.results, "popularity", by, None, 10)
        trend = await run_in_threadpool(analytics.results, "trending", by, None, 10)
    except NotFound as exc:
        return page(request, "analytics", **empty, meta=None, pairs=[], message=str(exc))
    # Every group is reachable from the picker; by default the largest ones are shown.
    totals = pop.get("totals", {})
    groups = sorted(set(totals) | set(pop["groups"]) | set(trend["groups"]))
    chosen = analytics.normalise_group(by, group) if group else ""
    if chosen:
        shown = [chosen]
    else:
        shown = sorted(groups, key=lambda g: -(totals.get(g) or {}).get("events", 0))[:TOP_GROUPS]
    pairs = [
        {"group": g, "sections": [_section("Popular", pop, "score", g),
                                  _section("Trending", trend, "trend_score", g)]}
        for g in shown
    ]  # fmt: skip
    return page(
        request, "analytics", by=by, group=chosen, groups=groups, top=TOP_GROUPS, meta=meta,
        pairs=pairs, message=None if pairs else f"no results for {by} {group!r}",
    )  # fmt: skip


def _section(title: str, payload: dict[str, Any], key: str, group: str) -> dict[str, Any]:
    rows = payload["groups"].get(group, [])
    chart = charts.bars(
        [(f"{r['entity_type']}:{r['entity_id']}", float(r[key])) for r in rows],
        title=f"{title} in {group}",
    )
    return {"title": title, "rows": rows, "key": key, "chart": chart}


@router.post("/analytics/run")
def analytics_run(request: Request, as_of: Annotated[str, Form()] = "") -> Response:
    def run(r: Runtime) -> tuple[str, str]:
        started = r.analytics.run(as_of.strip() or None, wait=False, timeout_s=0.0)
        return f"/jobs/{started['job_id']}", "analytics run started"

    return act(request, "/analytics", run)
