"""Send one outbox row: claim it, render it for its channel, send, log the attempt, mark it.

Each channel has a breaker of its own (`external_api:<channel id>`, with external_api's
limits): a receiver that is down stops its own sends, not the other channels'.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from tally.alerts import channels, outbox, render
from tally.alerts.channels import Channel
from tally.alerts.send import Sent, Smtp, post_json, send_email
from tally.errors import BreakerOpen, NotFound
from tally.infra import faults
from tally.infra.breakers import Breakers
from tally.infra.metadb.db import MetadataDB
from tally.settings import AlertsSettings

log = logging.getLogger("tally.alerts")
SENDS = Counter(
    "tally_alert_notifications", "Alert notification attempts", ["channel_kind", "outcome"]
)


class _Retryable(Exception):
    """A failed send that counts against the channel's breaker."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one delivery job did with its row."""

    outcome: str  # sent, retry, failed, deferred (breaker open), skipped (not due or taken)
    attempt: int = 0
    error: str | None = None
    next_at: float | None = None  # when a retry or a deferred send is due


def backoff_s(settings: AlertsSettings, attempt: int) -> float:
    """Exponential: backoff_s, then twice that per attempt, up to backoff_max_s."""
    return float(min(settings.backoff_max_s, settings.backoff_s * 2 ** max(0, attempt - 1)))


def smtp_of(channel: Channel, settings: AlertsSettings) -> Smtp:
    """The channel's SMTP settings over seed 001's ALERT_EMAIL_* defaults."""
    c, password = channel.config, channel.secrets.get("password")
    if password is None and settings.email_password is not None:
        password = settings.email_password.get_secret_value()
    user = c.get("user") or settings.email_user
    return Smtp(
        host=c.get("host") or settings.email_smtp_host or "localhost",
        port=int(c.get("port") or settings.email_smtp_port),
        security=c.get("security") or settings.email_security,
        user=user,
        password=password,
        sender=c.get("from") or settings.email_from or user or "tally@localhost",
        to=list(c.get("to") or [a.strip() for a in (settings.email_to or "").split(",") if a]),
        timeout_s=float(c.get("timeout_s") or settings.send_timeout_s),
    )


def send_to(channel: Channel, payload: dict[str, Any], settings: AlertsSettings) -> Sent:
    """Render the payload for this channel and send it once."""
    nid = str(payload["notification_id"])
    ctx = {**payload["context"], "notification_id": nid}
    # The rule's own templates, else the channel's, else Tally's wording (field by field).
    rule_templates = {k: v for k, v in (payload.get("templates") or {}).items() if v}
    templates = {**(channel.config.get("templates") or {}), **rule_templates}
    subject, text = render.subject_and_text(ctx, templates)
    if channel.kind == "email":
        return send_email(smtp_of(channel, settings), subject, text, notification_id=nid)
    url = channel.secrets.get("url")
    if url is None and settings.webhook_url is not None:
        url = settings.webhook_url.get_secret_value()
    if url is None:
        return Sent.fail("no URL (set one or ALERT_WEBHOOK_URL)", permanent=True)
    body = (
        render.slack(ctx, subject)
        if channel.kind == "slack"
        else render.webhook(ctx, subject, text)
    )
    return post_json(
        url, body, notification_id=nid, secret=channel.secrets.get("secret"),
        allowed=settings.allowed_hosts(), timeout_s=settings.send_timeout_s,
    )  # fmt: skip


def _guarded(channel: Channel, payload: dict[str, Any], settings: AlertsSettings,
             breakers: Breakers | None) -> Sent:  # fmt: skip
    if breakers is None:
        return send_to(channel, payload, settings)
    sent = Sent.fail("not sent")
    try:
        with breakers.guard(breaker_of(channel.id)):
            sent = send_to(channel, payload, settings)
            if not sent.ok and not sent.permanent:
                raise _Retryable(sent.error)
    except _Retryable:
        pass
    return sent


def breaker_of(channel_id: int) -> str:
    """The channel's own breaker, with external_api's limits."""
    return f"external_api:{channel_id}"


def _paused_s(breakers: Breakers | None, channel_id: int) -> float:
    return 0.0 if breakers is None else breakers.retry_after_s(breaker_of(channel_id))


def deliver(
    db: MetadataDB, nid: str, settings: AlertsSettings, breakers: Breakers | None
) -> Delivered:
    """Send notification `nid` if it is due and no other sender has it.

    While the channel's breaker is open the row waits for it, without using a try.
    """
    now = time.time()
    with db.session() as session:
        conn = session.connection()
        row = outbox.claim(conn, nid, now, settings.send_lease_s)
        if row is None:
            return Delivered("skipped")
        wait_s = _paused_s(breakers, int(row.channel_id))
        if wait_s > 0:
            outbox.defer(conn, nid, now + wait_s)
            return Delivered("deferred", int(row.attempts) - 1, f"breaker open ({wait_s:.0f} s)",
                             now + wait_s)  # fmt: skip
        attempt_id = outbox.begin_attempt(conn, nid, int(row.attempts), now)
        try:
            channel: Channel | None = channels.channel(conn, row.channel_id)
        except NotFound:
            channel = None
    started = time.perf_counter()
    try:
        if channel is None:
            sent, kind = Sent.fail("channel deleted", permanent=True), "unknown"
        else:
            sent, kind = _guarded(channel, dict(row.payload), settings, breakers), channel.kind
    except BreakerOpen as exc:  # another sender's failure opened it meanwhile: wait for it
        until = time.time() + exc.retry_after_s
        with db.session() as session:
            outbox.defer(session.connection(), nid, until, attempt_id)
        return Delivered("deferred", int(row.attempts) - 1, "breaker open", until)
    duration_ms = (time.perf_counter() - started) * 1000
    faults.hit("alerts.after_send")  # the crash the exactly-once tests inject
    attempt = int(row.attempts)
    retry_at = None
    if not sent.ok and not sent.permanent and attempt < settings.max_send_tries:
        retry_at = time.time() + backoff_s(settings, attempt)
    with db.session() as session:
        conn = session.connection()
        outbox.end_attempt(
            conn, attempt_id, ok=sent.ok, status_code=sent.status_code, error=sent.error,
            duration_ms=duration_ms,
        )  # fmt: skip
        error = None if sent.ok else (sent.error or "failed")
        outbox.finish(conn, nid, now=time.time(), error=error, retry_at=retry_at)
    outcome = "sent" if sent.ok else ("retry" if retry_at is not None else "failed")
    SENDS.labels(kind, outcome).inc()
    log.info(
        "alert notification %s: %s (attempt %d, channel %s, %s ms)%s", nid, outcome, attempt,
        row.channel_id, round(duration_ms), f": {sent.error}" if sent.error else "",
    )  # fmt: skip
    return Delivered(outcome, attempt, sent.error, retry_at)
