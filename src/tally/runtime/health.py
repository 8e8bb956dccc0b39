"""Health: every part's check, added up into one answer (SPEC §7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tally.infra.health import HealthCheck


def run_checks(checks: Sequence[HealthCheck], head: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(healthy, body): `head`, then each check's detail under its name, then the problems."""
    body: dict[str, Any] = dict(head)
    problems: list[str] = []
    for check in checks:
        answer = check.check()
        body[check.name] = answer.detail
        problems.extend(answer.problems)
    body["problems"] = problems
    return not problems, body
