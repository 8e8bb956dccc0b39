"""Health: alerts firing now, and notifications that could not be sent."""

from __future__ import annotations

import time

from tally.alerts import outbox
from tally.alerts.service import AlertsService
from tally.errors import TallyError
from tally.infra.health import Checked


class AlertsCheck:
    """Reports firing alerts and the outbox's last day."""

    name = "alerts"

    def __init__(self, service: AlertsService) -> None:
        self._service = service

    def check(self) -> Checked:
        try:
            firing = self._service.firing()
            with self._service.db.session() as session:
                counts = outbox.backlog(session.connection(), time.time())
        except TallyError as exc:
            # Not migrated yet, or the metadata DB is down (its own check says so).
            return Checked({"status": "unknown", "reason": str(exc)[:200]})
        detail = {
            "status": "ok",
            "firing": len(firing),
            "rules_firing": sorted({f["rule"] for f in firing}),
            "notifications_24h": counts,
        }
        # Reported, not a problem: a receiver that refuses does not make Tally unhealthy.
        if counts.get(outbox.Status.FAILED.value, 0):
            detail["status"] = "notifications failing"
        return Checked(detail)
