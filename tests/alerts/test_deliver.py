"""Delivery through real receivers: webhook (signed, idempotent), Slack Block Kit, SMTP login."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from pydantic import TypeAdapter

from tally.alerts import outbox
from tally.alerts.channels import ChannelIn
from tally.alerts.deliver import deliver
from tally.alerts.rules import RuleIn
from tally.alerts.send import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from tally.errors import ValidationFailed
from tally.infra.metadb.db import MetadataDB
from tests.alerts.conftest import service_on
from tests.alerts.receiver import Receiver, SmtpServer

CHANNEL: TypeAdapter[Any] = TypeAdapter(ChannelIn)
EVENTS = {"kind": "events", "country": "FR", "condition": "above", "bound": 10}


def channel(service: Any, **body: Any) -> None:
    service.save_channel(CHANNEL.validate_python(body))


def rule(service: Any, *channels: str) -> dict[str, Any]:
    body = {"name": "FR views", "spec": EVENTS, "channels": list(channels), "severity": "critical"}
    created: dict[str, Any] = service.create_rule(RuleIn.model_validate(body))
    return created


def test_webhook_is_signed_and_carries_the_notification_id(
    sqlite_db: MetadataDB, receiver: Receiver
) -> None:
    service = service_on(sqlite_db)
    channel(service, name="hook", kind="webhook", url=receiver.url(), secret="sign-8842")
    rule(service, "hook")
    # When a test notification is sent
    [outcome] = service.test("FR views")
    assert outcome["outcome"] == "sent"
    # Then the receiver got one POST: its Idempotency-Key is the notification id
    [req] = receiver.requests
    assert req.headers["Idempotency-Key"] == outcome["notification_id"]
    body = req.json()
    assert body["notification_id"] == outcome["notification_id"]
    assert body["kind"] == "test"
    assert body["test"] is True
    assert body["subject"].startswith("[TEST]")
    assert body["rule"]["name"] == "FR views"
    assert body["url"].startswith("http://tally.test/alerts/")
    # And its signature verifies with the channel's secret over timestamp + "." + body
    expected = signature("sign-8842", req.headers[TIMESTAMP_HEADER], req.body)
    assert req.headers[SIGNATURE_HEADER] == expected
    assert signature("wrong", req.headers[TIMESTAMP_HEADER], req.body) != expected


def test_slack_gets_block_kit_with_rule_value_bound_group_and_link(
    sqlite_db: MetadataDB, receiver: Receiver
) -> None:
    service = service_on(sqlite_db)
    channel(service, name="slack", kind="slack", url=receiver.url("/services/T/B/X"))
    rule(service, "slack")
    service.test("FR views")
    body = receiver.requests[0].json()
    assert body["text"].startswith("[TEST]")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds[0] == "header"
    assert "section" in kinds
    assert kinds[-1] == "context"
    fields = {
        f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in body["blocks"][1]["fields"]
    }
    assert set(fields) == {"*Rule*", "*State*", "*Value*", "*Bound*", "*Group*", "*Severity*"}
    assert fields["*Rule*"] == "FR views"
    assert fields["*Severity*"] == "critical"
    link = body["blocks"][-1]["elements"][0]["text"]
    assert link.startswith("<http://tally.test/alerts/")
    assert "|Open in Tally>" in link


def test_email_through_a_real_smtp_server_with_login(
    sqlite_db: MetadataDB, smtp: SmtpServer
) -> None:
    service = service_on(sqlite_db)
    channel(service, name="mail", kind="email", host="127.0.0.1", port=smtp.port,
            security="none", user="alerts", password="smtp-pw-7731",
            to=["ops@example.com", "oncall@example.com"],
            **{"from": "tally@example.com"})  # fmt: skip
    rule(service, "mail")
    [outcome] = service.test("FR views")
    assert outcome["outcome"] == "sent", outcome
    assert smtp.logins == ["alerts"]
    [message] = smtp.messages
    assert message.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    text = message.content.decode() if isinstance(message.content, bytes) else str(message.content)
    assert "Subject: [TEST] [critical] FR views" in text
    assert f"X-Tally-Notification-Id: {outcome['notification_id']}" in text


def test_a_wrong_smtp_password_fails_for_good_without_saying_it(
    sqlite_db: MetadataDB, smtp: SmtpServer
) -> None:
    service = service_on(sqlite_db)
    channel(service, name="mail", kind="email", host="127.0.0.1", port=smtp.port,
            security="none", user="alerts", password="not-the-pw-991",
            to=["ops@example.com"])  # fmt: skip
    rule(service, "mail")
    [outcome] = service.test("FR views")
    assert outcome["outcome"] == "failed"
    assert outcome["error"] == "SMTP login refused"
    assert "not-the-pw-991" not in str(service.notifications())


def test_retries_with_backoff_until_the_receiver_answers(
    sqlite_db: MetadataDB, receiver: Receiver
) -> None:
    # Given a webhook that answers 500 three times, then 200
    receiver.fail_next = 3
    service = service_on(sqlite_db, TALLY_ALERTS_BACKOFF_S="0.05")
    channel(service, name="hook", kind="webhook", url=receiver.url())
    rule(service, "hook")
    [first] = service.test("FR views")
    assert first["outcome"] == "retry"
    nid = first["notification_id"]
    # When the outbox sends what is due again, until nothing is
    for _ in range(50):
        time.sleep(0.06)
        with sqlite_db.session() as session:
            due = outbox.due(session.connection(), time.time())
        for again in due:
            deliver(sqlite_db, again, service.settings, None)
        if not due and receiver.requests and len(receiver.requests) >= 4:
            break
    # Then four attempts, all with the same id, the last accepted; every one in the log
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [nid] * 4
    [row] = service.notifications()
    assert row["status"] == "sent"
    assert row["attempts"] == 4
    log = row["attempt_log"]
    assert [a["outcome"] for a in log] == ["failed", "failed", "failed", "sent"]
    assert [a["status_code"] for a in log] == [500, 500, 500, 200]
    # The waits grow: 0.05, 0.1, 0.2 s at least between attempts
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(log)]
    assert gaps[1] >= 0.1
    assert gaps[2] >= 0.2


def test_a_receiver_that_is_down_does_not_block_another_channel(
    sqlite_db: MetadataDB, receiver: Receiver
) -> None:
    service = service_on(sqlite_db)
    channel(service, name="down", kind="webhook", url="http://127.0.0.1:9/closed")
    channel(service, name="up", kind="webhook", url=receiver.url())
    rule(service, "down", "up")
    outcomes = {o["outcome"] for o in service.test("FR views")}
    assert outcomes == {"retry", "sent"}
    assert len(receiver.requests) == 1


def test_redirects_to_another_host_are_refused(sqlite_db: MetadataDB, receiver: Receiver) -> None:
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data"
    service = service_on(sqlite_db, TALLY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1,169.254.169.254")
    channel(service, name="hook", kind="webhook", url=receiver.url())
    rule(service, "hook")
    [outcome] = service.test("FR views")
    assert outcome["outcome"] == "failed"
    assert outcome["error"] == "redirect to another host refused"


def test_the_allow_list_is_checked_again_when_sending(
    sqlite_db: MetadataDB, receiver: Receiver
) -> None:
    allowed = service_on(sqlite_db)
    channel(allowed, name="hook", kind="webhook", url=receiver.url())
    rule(allowed, "hook")
    # When the deployment no longer lists loopback, the saved channel is refused at send time
    strict = service_on(sqlite_db, TALLY_WEBHOOK_ALLOWED_HOSTS="")
    [outcome] = strict.test("FR views")
    assert outcome["outcome"] == "failed"
    assert "TALLY_WEBHOOK_ALLOWED_HOSTS" in outcome["error"]
    assert receiver.requests == []


def test_a_channels_templates_apply_unless_the_rule_has_its_own(
    sqlite_db: MetadataDB, receiver: Receiver
) -> None:
    service = service_on(sqlite_db)
    templates = {"subject": "ops: {{ rule.name }}", "body": "{{ state }} at {{ at }}"}
    channel(service, name="hook", kind="webhook", url=receiver.url(), templates=templates)
    rule(service, "hook")
    service.test("FR views")
    first = receiver.bodies()[0]
    assert first["subject"] == "[TEST] ops: FR views"
    assert first["text"].startswith("test at ")
    # A rule's own subject wins; its body, unset, is the channel's
    body = {"name": "FR views", "spec": EVENTS, "channels": ["hook"],
            "templates": {"subject": "rule says {{ group or 'all' }}"}}  # fmt: skip
    service.replace_rule("FR views", RuleIn.model_validate(body))
    service.test("FR views")
    second = receiver.bodies()[1]
    assert second["subject"] == "[TEST] rule says all"
    assert second["text"].startswith("test at ")
    # A channel template that does not compile is refused, naming the field
    with pytest.raises(ValidationFailed) as caught:
        channel(service, name="bad", kind="webhook", url=receiver.url(),
                templates={"body": "{% if %}"})  # fmt: skip
    assert caught.value.field == "templates.body"
