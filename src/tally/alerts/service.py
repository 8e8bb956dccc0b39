"""The alerts capability as routes, commands and pages use it: CRUD, history, test, preview."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from tally import keys
from tally.alerts import channels, outbox, repo
from tally.alerts.apply import rule_summary
from tally.alerts.channels import ChannelIn, EmailIn
from tally.alerts.deliver import deliver
from tally.alerts.outbox import Limits
from tally.alerts.preview import check_replayable
from tally.alerts.render import check_template, context
from tally.alerts.rules import RuleIn
from tally.errors import ValidationFailed
from tally.infra.breakers import Breakers
from tally.infra.metadb.db import MetadataDB
from tally.jobs.client import JobClient
from tally.settings import AlertsSettings

PREVIEW_TIMEOUT_S = 120.0


class AlertsService:
    """Rules, channels and history in the metadata database; evaluation runs as jobs."""

    def __init__(
        self,
        db: MetadataDB,
        settings: AlertsSettings,
        jobs: JobClient,
        breakers: Breakers | None,
        dashboard_url: str,
    ) -> None:
        self.db = db
        self.settings = settings
        self.jobs = jobs
        self.breakers = breakers
        self.dashboard_url = dashboard_url.rstrip("/")

    @property
    def limits(self) -> Limits:
        """Notifications allowed per rule and in all, per hour."""
        return Limits(self.settings.max_per_rule_per_hour, self.settings.max_per_hour)

    # --- rules -------------------------------------------------------------------------
    def _check(self, definition: RuleIn) -> list[int]:
        check_template(definition.templates.subject, "templates.subject")
        check_template(definition.templates.body, "templates.body")
        with self.db.session() as session:
            return channels.ids_of(session.connection(), definition.channels)

    def rules(self) -> list[dict[str, Any]]:
        """Every rule with its groups' states."""
        with self.db.session() as session:
            conn = session.connection()
            found = repo.rules(conn)
            states = repo.state_rows(conn)
        by_rule: dict[int, list[dict[str, Any]]] = {}
        for s in states:
            by_rule.setdefault(s["rule_id"], []).append(s)
        return [self._shown(r, by_rule.get(r.id, [])) for r in found]

    def _shown(self, rule: repo.Rule, states: list[dict[str, Any]]) -> dict[str, Any]:
        firing = [s for s in states if s["state"] == "firing"]
        worst = "firing" if firing else _worst(states)
        return {
            "id": rule.id,
            **rule.definition.model_dump(mode="json", by_alias=True),
            "muted_until": rule.muted_until,
            "next_eval_at": rule.next_eval_at if rule.definition.interval_s() or
                            rule.definition.cron else None,
            "last_eval_at": rule.last_eval_at,
            "state": worst,
            "firing": len(firing),
            "groups": [_state(s) for s in states],
            "created_at": rule.created_at,
            "updated_at": rule.updated_at,
        }  # fmt: skip

    def rule(self, ref: str | int) -> dict[str, Any]:
        """One rule with its states."""
        with self.db.session() as session:
            conn = session.connection()
            found = repo.rule(conn, ref)
            states = repo.state_rows(conn, [found.id])
        return self._shown(found, states)

    def create_rule(self, definition: RuleIn) -> dict[str, Any]:
        """Save a new rule (422 naming the field, 409 for a taken name)."""
        ids = self._check(definition)
        with self.db.session() as session:
            rule_id = repo.save_rule(session.connection(), definition, ids)
        return self.rule(rule_id)

    def replace_rule(self, ref: str | int, definition: RuleIn) -> dict[str, Any]:
        """Replace a rule's definition; its states and history stay."""
        ids = self._check(definition)
        with self.db.session() as session:
            conn = session.connection()
            rule_id = repo.rule(conn, ref).id
            repo.save_rule(conn, definition, ids, rule_id)
        return self.rule(rule_id)

    def delete_rule(self, ref: str | int) -> None:
        """Remove a rule and its states."""
        with self.db.session() as session:
            conn = session.connection()
            repo.delete_rule(conn, repo.rule(conn, ref).id)

    def mute(self, ref: str | int, until: datetime | None) -> dict[str, Any]:
        """Silence a rule until `until` (None: unmute); its states are still tracked."""
        at = None if until is None else until.timestamp()
        if at is not None and at <= time.time():
            raise ValidationFailed("until", "in_the_past", "a mute must end in the future")
        with self.db.session() as session:
            conn = session.connection()
            rule_id = repo.rule(conn, ref).id
            repo.set_muted(conn, rule_id, at)
        return self.rule(rule_id)

    def firing(self) -> list[dict[str, Any]]:
        """Groups firing now, with their rule's name (for `tally status` and metrics)."""
        with self.db.session() as session:
            conn = session.connection()
            names = {r.id: (r.name, r.definition.severity.value) for r in repo.rules(conn)}
            states = repo.state_rows(conn)
        return [
            {"rule": names[s["rule_id"]][0], "severity": names[s["rule_id"]][1], **_state(s)}
            for s in states
            if s["state"] == "firing" and s["rule_id"] in names
        ]

    # --- channels ----------------------------------------------------------------------
    def channels(self) -> list[dict[str, Any]]:
        """Every channel, secrets shown as `set`."""
        with self.db.session() as session:
            return [c.public() for c in channels.channels(session.connection())]

    def channel(self, ref: str | int) -> dict[str, Any]:
        """One channel, secrets shown as `set`."""
        with self.db.session() as session:
            return channels.channel(session.connection(), ref).public()

    def save_channel(self, definition: ChannelIn, ref: str | int | None = None) -> dict[str, Any]:
        """Create (or replace) a channel; a replacement keeps secrets it does not repeat."""
        with self.db.session() as session:
            conn = session.connection()
            old = None if ref is None else channels.channel(conn, ref)
            checked = definition
            keeps_url = not isinstance(definition, EmailIn) and definition.url is None
            if old is not None and keeps_url and old.secrets.get("url"):
                checked = definition.model_copy(update={"url": SecretStr(old.secrets["url"])})
            channels.validate(checked, self.settings)
            channel_id = channels.save(conn, definition, None if old is None else old.id)
        return self.channel(channel_id)

    def delete_channel(self, ref: str | int) -> None:
        """Remove a channel."""
        with self.db.session() as session:
            conn = session.connection()
            channels.delete(conn, channels.channel(conn, ref).id)

    # --- history, test, preview --------------------------------------------------------
    def history(
        self, ref: str | int | None = None, *, since: float | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """State changes, newest first (of one rule, or all)."""
        with self.db.session() as session:
            conn = session.connection()
            rule_id = None if ref is None else repo.rule(conn, ref).id
            names = {r.id: r.name for r in repo.rules(conn)}
            rows = repo.history(conn, rule_id=rule_id, since=since, limit=limit)
        return [{**r, "rule": names.get(r["rule_id"])} for r in rows]

    def notifications(self, ref: str | int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Notifications with their attempt log, newest first."""
        with self.db.session() as session:
            conn = session.connection()
            rule_id = None if ref is None else repo.rule(conn, ref).id
            return outbox.listing(conn, rule_id=rule_id, limit=limit)

    def test(self, ref: str | int) -> list[dict[str, Any]]:
        """Send a clearly marked test notification to each of the rule's channels, now."""
        now = time.time()
        with self.db.session() as session:
            conn = session.connection()
            rule = repo.rule(conn, ref)
            if not rule.channel_ids:
                raise ValidationFailed("channels", "missing", "the rule has no channel to test")
            ctx = context(
                notification_id="", kind="test", rule=rule_summary(rule), group="",
                state="test", previous_state="test", value=None, bound=None,
                note="a test sent from Tally", at=now, url=f"{self.dashboard_url}/alerts/{rule.id}",
            )  # fmt: skip
            payload = {"context": ctx, "templates": rule.definition.templates.model_dump()}
            ids = outbox.add(
                conn, rule_id=rule.id, event_id=None, kind="test", channel_ids=rule.channel_ids,
                payload=payload, now=now, limits=None,
            )  # fmt: skip
        out = []
        for nid in ids:
            done = deliver(self.db, nid, self.settings, self.breakers)
            out.append({"notification_id": nid, "outcome": done.outcome, "error": done.error})
        return out

    def preview(self, ref: str | int, days: float) -> dict[str, Any]:
        """Replay a rule over the past `days` (a job: the store's owner reads the events)."""
        if not 0 < days <= 31:
            raise ValidationFailed("days", "out_of_range", "days must be within (0, 31]")
        with self.db.session() as session:
            rule = repo.rule(session.connection(), ref)
        check_replayable(rule)  # 422 here, not a failed job
        rule_id = rule.id
        result: dict[str, Any] = self.jobs.call(
            keys.TASK_ALERTS_PREVIEW, PREVIEW_TIMEOUT_S, rule_id=rule_id, days=days
        )
        return result


def _state(s: dict[str, Any]) -> dict[str, Any]:
    keep = ("group_key", "state", "since", "value", "bound", "message", "evaluated_at")
    out = {k: s[k] for k in keep}
    out["group"] = out.pop("group_key")
    return out


def _worst(states: list[dict[str, Any]]) -> str:
    order = ["error", "firing", "pending", "resolved", "ok"]
    found = {s["state"] for s in states}
    return next((s for s in order if s in found), "ok")
