"""One evaluation cycle in process: error once, recovery, rate limits, templates, muting."""

from __future__ import annotations

import time
from typing import Any

from pydantic import TypeAdapter

from tally.alerts import outbox, render
from tally.alerts.channels import ChannelIn
from tally.alerts.evaluate import Sources, run_cycle
from tally.alerts.outbox import Limits
from tally.alerts.rules import RuleIn
from tally.infra.metadb.db import MetadataDB
from tally.store.base import Store
from tests.alerts.conftest import put_events, service_on

CHANNEL: TypeAdapter[Any] = TypeAdapter(ChannelIn)
LIMITS = Limits(per_rule_per_hour=100, per_hour=1000)


def setup(db: MetadataDB, **rule: Any) -> int:
    service = service_on(db)
    service.save_channel(CHANNEL.validate_python(
        {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/x"}))  # fmt: skip
    spec = {"kind": "events", "window_s": 60, "condition": "above", "bound": 3}
    body = {"name": "views", "every_s": 60, "channels": ["hook"], "spec": spec}
    created: dict[str, Any] = service.create_rule(RuleIn.model_validate(body | rule))
    return int(created["id"])


def cycle(db: MetadataDB, sources: Sources, rule_id: int) -> Any:
    return run_cycle(db, sources, time.time(), limits=LIMITS, dashboard_url="http://t",
                     only=[rule_id])  # fmt: skip


def test_a_rule_whose_query_fails_is_in_error_notified_once_then_recovers(
    sqlite_db: MetadataDB, store: Store
) -> None:
    rule_id = setup(sqlite_db)
    # Given a process that cannot read events: the rule is in error, said once
    broken = Sources(store=None)
    first = cycle(sqlite_db, broken, rule_id)
    assert "views" in first.errors
    assert len(first.notifications) == 1
    assert cycle(sqlite_db, broken, rule_id).notifications == []
    service = service_on(sqlite_db)
    rule = service.rule(rule_id)
    assert rule["state"] == "error"
    assert "no store" in rule["groups"][0]["message"]
    # When the store answers again: back to ok, silently
    healthy = Sources(store=lambda: store)
    assert cycle(sqlite_db, healthy, rule_id).notifications == []
    assert service.rule(rule_id)["state"] == "ok"
    changes = [(h["from_state"], h["to_state"]) for h in reversed(service.history(rule_id))]
    assert changes == [("ok", "error"), ("error", "ok")]


def test_the_rate_limit_keeps_the_excess_as_suppressed(sqlite_db: MetadataDB) -> None:
    rule_id = setup(sqlite_db)
    limits = Limits(per_rule_per_hour=2, per_hour=1000)
    now = time.time()
    with sqlite_db.session() as session:
        conn = session.connection()
        sent = [outbox.add(conn, rule_id=rule_id, event_id=None, kind="firing", channel_ids=[1],
                           payload={}, now=now, limits=limits) for _ in range(4)]  # fmt: skip
        other = outbox.add(conn, rule_id=rule_id + 1, event_id=None, kind="firing",
                           channel_ids=[1], payload={}, now=now, limits=limits)  # fmt: skip
    assert [len(ids) for ids in sent] == [1, 1, 0, 0]
    assert len(other) == 1  # the limit is per rule
    rows = service_on(sqlite_db).notifications(rule_id)
    suppressed = [r for r in rows if r["status"] == "suppressed"]
    assert len(suppressed) == 2
    assert "rate limit" in suppressed[0]["last_error"]


def test_templates_render_in_a_sandbox() -> None:
    ctx = render.context(
        notification_id="n1", kind="firing", rule={"name": "views", "severity": "critical",
        "kind": "events", "condition": "above", "labels": {"team": "video"}}, group="FR",
        state="firing", previous_state="ok", value=12.0, bound=3.0, note="", at=0.0, url="u",
    )  # fmt: skip
    subject, body = render.subject_and_text(
        ctx, {"subject": "{{ rule.labels.team }}: {{ rule.name }} in {{ group }} = {{ value }}",
              "body": "bound {{ bound }}"},
    )  # fmt: skip
    assert subject == "video: views in FR = 12.0"
    assert body == "bound 3.0"
    # A template reaching for Python internals is refused; the default wording is sent instead
    subject, body = render.subject_and_text(ctx, {"subject": "{{ ''.__class__.__mro__ }}"})
    assert subject == "[critical] views (FR) is firing"
    assert "template error" in body


def test_a_grouped_rule_keeps_one_state_per_group(sqlite_db: MetadataDB, store: Store) -> None:
    rule_id = setup(sqlite_db, spec={"kind": "events", "window_s": 60, "group_by": "country",
                                     "condition": "above", "bound": 3})  # fmt: skip
    now = time.time()
    put_events(store, [(now - 5, "video_view", "FR", "music", f"u{i}") for i in range(5)]
               + [(now - 5, "video_view", "DE", "music", "u")] * 2)  # fmt: skip
    done = cycle(sqlite_db, Sources(store=lambda: store), rule_id)
    assert len(done.notifications) == 1  # FR fires, DE stays ok
    groups = {g["group"]: g["state"] for g in service_on(sqlite_db).rule(rule_id)["groups"]}
    assert groups == {"FR": "firing"}  # a group that stays ok is not written
