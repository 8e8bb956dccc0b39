"""`runtime.alerts` through a running Tally's API (beside `tally dev`, or remote)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tally.alerts.channels import ChannelIn
from tally.alerts.rules import RuleIn
from tally.cli.remote import Api

BASE = "/api/v1/alerts"


def _rule_body(definition: RuleIn) -> Any:
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass
class RemoteAlerts:
    """The calls `tally alerts` makes, as HTTP requests."""

    api: Api

    def rules(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.api.call("GET", f"{BASE}/rules")
        return out

    def rule(self, ref: str | int) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call("GET", f"{BASE}/rules/{ref}")
        return out

    def create_rule(self, definition: RuleIn) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call("POST", f"{BASE}/rules", json=_rule_body(definition))
        return out

    def replace_rule(self, ref: str | int, definition: RuleIn) -> dict[str, Any]:
        body = _rule_body(definition)
        out: dict[str, Any] = self.api.call("PUT", f"{BASE}/rules/{ref}", json=body)
        return out

    def delete_rule(self, ref: str | int) -> None:
        self.api.call("DELETE", f"{BASE}/rules/{ref}")

    def mute(self, ref: str | int, until: datetime | None) -> dict[str, Any]:
        body = {"until": until.isoformat() if until else None}
        out: dict[str, Any] = self.api.call("POST", f"{BASE}/rules/{ref}/mute", json=body)
        return out

    def test(self, ref: str | int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.api.call("POST", f"{BASE}/rules/{ref}/test")
        return out

    def preview(self, ref: str | int, days: float) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call(
            "POST", f"{BASE}/rules/{ref}/preview", params={"days": days}, timeout=150
        )
        return out

    def channels(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.api.call("GET", f"{BASE}/channels")
        return out

    def save_channel(self, definition: ChannelIn, ref: str | int | None = None) -> dict[str, Any]:
        body = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
        for field in ("password", "url", "secret"):  # model_dump hides secrets as '**********'
            value = getattr(definition, field, None)
            if value is not None:
                body[field] = value.get_secret_value()
        method, path = (
            ("POST", f"{BASE}/channels") if ref is None else ("PUT", f"{BASE}/channels/{ref}")
        )
        out: dict[str, Any] = self.api.call(method, path, json=body)
        return out

    def delete_channel(self, ref: str | int) -> None:
        self.api.call("DELETE", f"{BASE}/channels/{ref}")

    def history(
        self, ref: str | int | None = None, *, since: float | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"rule": ref, "since": since, "limit": limit}.items() if v}
        out: list[dict[str, Any]] = self.api.call("GET", f"{BASE}/history", params=params)
        return out

    def firing(self) -> list[dict[str, Any]]:
        out = []
        for rule in self.rules():
            for group in rule["groups"]:
                if group["state"] == "firing":
                    out.append({"rule": rule["name"], "severity": rule["severity"], **group})
        return out
