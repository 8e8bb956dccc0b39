"""Health: the last day's report runs and deliveries, and whether PDF can be rendered."""

from __future__ import annotations

import time

import sqlalchemy as sa

from tally.errors import TallyError
from tally.infra.health import Checked
from tally.reports import tables as t
from tally.reports.render import load_weasyprint
from tally.reports.service import ReportsService

DAY_S = 86_400.0


class ReportsCheck:
    """Reports runs and deliveries by status over 24 h (reported, not a problem)."""

    name = "reports"

    def __init__(self, service: ReportsService) -> None:
        self._service = service

    def check(self) -> Checked:
        since = time.time() - DAY_S
        try:
            with self._service.db.session() as session:
                conn = session.connection()
                runs: dict[str, int] = dict(conn.execute(
                    sa.select(t.runs.c.status, sa.func.count()).where(t.runs.c.created_at > since)
                    .group_by(t.runs.c.status)).all())  # fmt: skip
                sent: dict[str, int] = dict(conn.execute(
                    sa.select(t.deliveries.c.status, sa.func.count())
                    .where(t.deliveries.c.created_at > since)
                    .group_by(t.deliveries.c.status)).all())  # fmt: skip
        except TallyError as exc:
            return Checked({"status": "unknown", "reason": str(exc)[:200]})
        try:
            load_weasyprint()
            pdf = "available"
        except TallyError as exc:
            pdf = str(exc)
        detail = {"status": "ok", "runs_24h": runs, "deliveries_24h": sent, "pdf": pdf,
                  "directory": str(self._service.settings.directory)}  # fmt: skip
        if runs.get("failed") or sent.get("failed"):
            detail["status"] = "runs or deliveries failing"
        return Checked(detail)
