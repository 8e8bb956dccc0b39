"""Dashboard pages, one module per capability, served at `/` of the API."""

from __future__ import annotations

from fastapi import APIRouter

from tally.dashboard.pages import (
    alerts,
    analytics,
    dbt,
    events,
    jobs,
    login,
    maintenance,
    overview,
    reports,
)
from tally.dashboard.pages.common import read_sample

router = APIRouter(include_in_schema=False)
for _module in (login, overview, jobs, analytics, alerts, reports, dbt, maintenance, events):
    router.include_router(_module.router)

__all__ = ["read_sample", "router"]
