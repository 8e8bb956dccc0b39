"""`runtime.reports` through a running Tally's API (beside `tally dev`, or remote)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tally.cli.remote import Api
from tally.reports.definitions import ReportIn

BASE = "/api/v1/reports"


def _body(definition: ReportIn) -> Any:
    return definition.model_dump(mode="json", exclude_none=True)


@dataclass
class RemoteReports:
    """The calls `tally reports` makes, as HTTP requests."""

    api: Api

    def reports(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.api.call("GET", BASE)
        return out

    def report(self, ref: str | int) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call("GET", f"{BASE}/{ref}")
        return out

    def create(self, definition: ReportIn) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call("POST", BASE, json=_body(definition))
        return out

    def replace(self, ref: str | int, definition: ReportIn) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call("PUT", f"{BASE}/{ref}", json=_body(definition))
        return out

    def delete(self, ref: str | int) -> None:
        self.api.call("DELETE", f"{BASE}/{ref}")

    def run_now(self, ref: str | int) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call("POST", f"{BASE}/{ref}/run")
        return out

    def run_inline(self, definition: ReportIn) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call("POST", f"{BASE}/run", json=_body(definition))
        return out

    def runs(self, ref: str | int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if ref is not None:
            params["report"] = ref
        out: list[dict[str, Any]] = self.api.call("GET", f"{BASE}/runs", params=params)
        return out

    def run(self, run_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call("GET", f"{BASE}/runs/{run_id}")
        return out

    def save_file(self, run_id: str, dest: Path) -> int:
        """Download a run's file to `dest` (streamed); the bytes written."""
        return self.api.save(f"{BASE}/runs/{run_id}/file", dest)
