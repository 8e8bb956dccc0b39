"""Rules and channels in the metadata DB (SQLite and PostgreSQL): CRUD, bad input, secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from tally.alerts.channels import ChannelIn
from tally.alerts.rules import RuleIn
from tally.errors import Conflict, NotFound, ValidationFailed
from tally.infra.metadb.db import MetadataDB
from tests.alerts.conftest import service_on

CHANNEL: TypeAdapter[Any] = TypeAdapter(ChannelIn)
EVENTS = {"kind": "events", "country": "FR", "condition": "above", "bound": 10}


def error_field(body: dict[str, Any], adapter: Any = RuleIn) -> tuple[str, str]:
    """The first field pydantic names for a bad rule, and its message."""
    with pytest.raises(ValidationError) as caught:
        (adapter.model_validate if hasattr(adapter, "model_validate") else adapter.validate_python)(
            body
        )
    first = caught.value.errors()[0]
    return ".".join(str(p) for p in first["loc"]), first["msg"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"spec": {"kind": "events", "condition": "above"}}, "spec.events", "bound: required"),
        ({"spec": {**EVENTS, "window_s": 0}}, "spec.events.window_s", "positive duration"),
        ({"spec": {**EVENTS, "window_s": -5}}, "spec.events.window_s", "positive duration"),
        ({"spec": EVENTS, "cron": "61 * * * *"}, "cron", "not a valid 5-field cron"),
        ({"spec": EVENTS, "every_s": 0}, "every_s", "positive number of seconds"),
        ({"spec": {"kind": "metric", "metric": "disk", "bound": 1}}, "spec.metric.metric", "Input"),
        ({"spec": {"kind": "telepathy"}}, "spec", "tag"),
        ({"spec": {**EVENTS, "condition": "change_pct", "bound": 0}}, "spec.events", "change of 0"),
        ({"spec": {"kind": "job", "tasks": []}}, "spec.job.tasks", "at least 1"),
    ],
)
def test_a_bad_rule_names_its_field(body: dict[str, Any], field: str, says: str) -> None:
    where, message = error_field({"name": "r", **body})
    assert where.startswith(field)
    assert says.lower() in message.lower()


def test_a_bad_channel_names_its_field() -> None:
    where, message = error_field({"name": "c", "kind": "email", "port": "twenty-five"}, CHANNEL)
    assert where == "email.port"
    assert "integer" in message
    where, _ = error_field({"name": "c", "kind": "email", "to": ["not-an-address"]}, CHANNEL)
    assert where == "email.to"


def test_rules_and_channels_round_trip_with_secrets_write_only(metadb: MetadataDB) -> None:
    service = service_on(metadb)
    # Given a webhook channel with a URL and a signing secret, and an email channel with a password
    hook = service.save_channel(CHANNEL.validate_python(
        {"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/hook/T0K3N",
         "secret": "sign-me-8842"}))  # fmt: skip
    mail = service.save_channel(CHANNEL.validate_python(
        {"name": "mail", "kind": "email", "host": "127.0.0.1", "port": 2525, "user": "a",
         "password": "pw-5511", "to": ["ops@example.com"]}))  # fmt: skip
    # Then the answers say "set", never the values
    assert hook == {"id": hook["id"], "name": "ops", "kind": "webhook", "url": "set",
                    "secret": "set"}  # fmt: skip
    assert mail["password"] == "set"
    assert mail["port"] == 2525
    shown = str(service.channels())
    for secret in ("T0K3N", "sign-me-8842", "pw-5511"):
        assert secret not in shown
    # When a rule names them
    rule = service.create_rule(RuleIn.model_validate(
        {"name": "FR views", "spec": EVENTS, "channels": ["ops", "mail"], "for": 2}))  # fmt: skip
    assert rule["channels"] == ["ops", "mail"]
    assert rule["for"] == 2
    assert rule["state"] == "ok"
    # And a channel is replaced without its secret: the secret is kept
    service.save_channel(CHANNEL.validate_python({"name": "ops", "kind": "webhook"}), "ops")
    with metadb.session() as session:
        from tally.alerts import channels

        kept = channels.channel(session.connection(), "ops").secrets
    assert kept == {"url": "http://127.0.0.1:9/hook/T0K3N", "secret": "sign-me-8842"}
    # And the rule can be replaced, muted, unmuted and deleted
    renamed = service.replace_rule(rule["id"], RuleIn.model_validate(
        {"name": "FR views 2", "spec": EVENTS, "channels": ["ops"]}))  # fmt: skip
    assert renamed["name"] == "FR views 2"
    assert renamed["channels"] == ["ops"]
    until = datetime.now(UTC) + timedelta(hours=1)
    assert service.mute("FR views 2", until)["muted_until"] == pytest.approx(until.timestamp())
    assert service.mute("FR views 2", None)["muted_until"] is None
    service.delete_rule("FR views 2")
    with pytest.raises(NotFound):
        service.rule("FR views 2")


def test_nothing_half_saved_on_bad_references(metadb: MetadataDB) -> None:
    service = service_on(metadb)
    # An unknown channel: 422 naming the list position, and no rule saved
    with pytest.raises(ValidationFailed) as caught:
        service.create_rule(RuleIn.model_validate({"name": "r", "spec": EVENTS,
                                                   "channels": ["nope"]}))  # fmt: skip
    assert caught.value.field == "channels.0"
    assert caught.value.reason == "unknown_channel"
    # A template that does not compile
    with pytest.raises(ValidationFailed) as caught:
        service.create_rule(RuleIn.model_validate(
            {"name": "r", "spec": EVENTS, "templates": {"subject": "{{ rule.name"}}))  # fmt: skip
    assert caught.value.field == "templates.subject"
    assert service.rules() == []
    # A taken name: 409
    service.create_rule(RuleIn.model_validate({"name": "r", "spec": EVENTS}))
    with pytest.raises(Conflict):
        service.create_rule(RuleIn.model_validate({"name": "r", "spec": EVENTS}))
    assert len(service.rules()) == 1
    # A mute that ends in the past
    with pytest.raises(ValidationFailed) as caught:
        service.mute("r", datetime.now(UTC) - timedelta(minutes=1))
    assert caught.value.field == "until"


def test_channel_urls_must_be_allowed(sqlite_db: MetadataDB) -> None:
    strict = service_on(sqlite_db, TALLY_WEBHOOK_ALLOWED_HOSTS="")
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://10.1.2.3/x",
                "http://[::1]/x", "http://169.254.169.254/latest/meta-data"):  # fmt: skip
        with pytest.raises(ValidationFailed) as caught:
            strict.save_channel(CHANNEL.validate_python({"name": "h", "kind": "webhook",
                                                         "url": url}))  # fmt: skip
        assert caught.value.field == "url"
        assert caught.value.reason == "url_not_allowed"
    body = {"name": "h", "kind": "slack", "url": "ftp://hooks.slack.com/x"}
    with pytest.raises(ValidationFailed) as caught:
        strict.save_channel(CHANNEL.validate_python(body))
    assert caught.value.reason == "invalid_url"
    # Listed: accepted (a host, or a CIDR)
    listed = service_on(sqlite_db, TALLY_WEBHOOK_ALLOWED_HOSTS="10.0.0.0/8, localhost")
    listed.save_channel(CHANNEL.validate_python({"name": "a", "kind": "webhook",
                                                 "url": "http://10.1.2.3/x"}))  # fmt: skip
    listed.save_channel(CHANNEL.validate_python({"name": "b", "kind": "webhook",
                                                 "url": "http://localhost:9/x"}))  # fmt: skip
    assert [c["name"] for c in listed.channels()] == ["a", "b"]


def test_seed_names_give_defaults_and_missing_ones_are_named(sqlite_db: MetadataDB) -> None:
    bare = service_on(sqlite_db)
    with pytest.raises(ValidationFailed) as caught:
        bare.save_channel(CHANNEL.validate_python({"name": "m", "kind": "email"}))
    assert caught.value.field == "host"
    assert "ALERT_EMAIL_SMTP_HOST" in caught.value.message
    with pytest.raises(ValidationFailed) as caught:
        bare.save_channel(CHANNEL.validate_python({"name": "w", "kind": "webhook"}))
    assert caught.value.field == "url"
    assert "ALERT_WEBHOOK_URL" in caught.value.message
    seeded = service_on(
        sqlite_db, ALERT_EMAIL_SMTP_HOST="127.0.0.1", ALERT_EMAIL_TO="ops@example.com",
        ALERT_EMAIL_FROM="tally@example.com", ALERT_WEBHOOK_URL="http://127.0.0.1:9/seed",
    )  # fmt: skip
    seeded.save_channel(CHANNEL.validate_python({"name": "m", "kind": "email"}))
    assert (
        seeded.save_channel(CHANNEL.validate_python({"name": "w", "kind": "webhook"}))["url"]
        == "unset"
    )  # the seed's URL is used when sending, not stored
