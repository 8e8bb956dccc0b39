"""`tally dev` end to end: events over HTTP breach a rule, then recover; each change once.

Webhook, Slack and email receivers are real local servers. Afterwards the API answers, the
dashboard's HTML, the process log and the metrics are searched for every secret given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.alerts.receiver import Receiver, SmtpServer
from tests.conftest import (
    API_TOKEN,
    Proc,
    api_client,
    clean_env,
    free_port,
    run_tally,
    wait_http,
    wait_until,
)

SECRETS = ("hook-path-T0K3N", "hmac-secret-5521", "slack-path-X9Y8", "smtp-pw-7731")
WINDOW_S = 4


def views(n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [{"event_type": "video_view", "entity_type": "video", "entity_id": f"v{i % 7}",
             "country": "FR", "user_id": f"u{i}", "created_at": now} for i in range(n)]  # fmt: skip


def kinds(receiver: Receiver) -> list[str]:
    """What each webhook notification was (firing, resolved …)."""
    return [b["kind"] for b in receiver.bodies()]


def slack_kinds(receiver: Receiver) -> list[str]:
    """What each Slack message said, from its fallback text."""
    return ["firing" if "is firing" in b["text"] else "resolved" for b in receiver.bodies()]


def test_a_rule_fires_and_resolves_once_per_channel_and_keeps_secrets(
    tmp_path: Path, procs: Callable[..., Proc], receiver: Receiver, smtp: SmtpServer
) -> None:
    slack = Receiver()
    try:
        _run(tmp_path, procs, receiver, slack, smtp)
    finally:
        slack.stop()


def _run(tmp_path: Path, procs: Callable[..., Proc], hook: Receiver, slack: Receiver,
         smtp: SmtpServer) -> None:  # fmt: skip
    port = free_port()
    env = clean_env(
        TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_ALERTS_TICK_S="0.5",
        TALLY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        TALLY_ANALYTICS_ON_STARTUP="false", TALLY_LOG_LEVEL="DEBUG",
    )  # fmt: skip
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=dev)
    client = api_client(base)

    # Given three channels, each with a secret
    for body in (
        {"name": "hook", "kind": "webhook", "url": hook.url("/hook-path-T0K3N"),
         "secret": "hmac-secret-5521"},
        {"name": "slack", "kind": "slack", "url": slack.url("/services/slack-path-X9Y8")},
        {"name": "mail", "kind": "email", "host": "127.0.0.1", "port": smtp.port,
         "security": "none", "user": "alerts", "password": "smtp-pw-7731",
         "to": ["ops@example.com"], "from": "tally@example.com"},
    ):  # fmt: skip
        r = client.post("/api/v1/alerts/channels", json=body)
        assert r.status_code == 201, r.text
    # And a rule: more than 20 FR views in the last 4 s, evaluated every second
    rule = {"name": "FR views burst", "every_s": 1, "channels": ["hook", "slack", "mail"],
            "spec": {"kind": "events", "event_type": "video_view", "country": "FR",
                     "window_s": WINDOW_S, "condition": "above", "bound": 20}}  # fmt: skip
    r = client.post("/api/v1/alerts/rules", json=rule)
    assert r.status_code == 201, r.text
    rule_id = r.json()["id"]

    # When 50 views arrive over HTTP and are stored
    assert client.post("/api/v1/events", json=views(50)).json()["accepted"] == 50
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 30})
    # Then each channel gets one "firing", and after the window passes one "resolved"
    wait_until(lambda: kinds(hook) == ["firing"] and slack_kinds(slack) == ["firing"]
               and len(smtp.messages) == 1, 30, "the firing notifications")  # fmt: skip
    wait_until(lambda: kinds(hook) == ["firing", "resolved"], 30, "the resolve")
    wait_until(lambda: slack_kinds(slack) == ["firing", "resolved"] and len(smtp.messages) == 2,
               15, "all resolves")  # fmt: skip
    time.sleep(2.5)  # a few more evaluations: nothing else is sent
    assert kinds(hook) == ["firing", "resolved"]
    assert len(slack.requests) == 2
    assert len(smtp.messages) == 2
    ids = [b["notification_id"] for b in hook.bodies()]
    assert len(set(ids)) == 2
    assert [r.headers["Idempotency-Key"] for r in hook.requests] == ids
    firing = hook.bodies()[0]
    assert firing["value"] == 50
    assert firing["bound"] == 20
    assert firing["state"] == "firing"
    history = client.get("/api/v1/alerts/history", params={"rule": rule_id}).json()
    assert [h["to_state"] for h in reversed(history)] == ["firing", "resolved"]

    # When the rule is muted and breaches again: its state is tracked, nothing is sent
    assert (
        client.post(f"/api/v1/alerts/rules/{rule_id}/mute", json={"for_s": 600}).status_code == 200
    )
    client.post("/api/v1/events", json=views(30))
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 30})
    wait_until(lambda: client.get(f"/api/v1/alerts/rules/{rule_id}").json()["state"] == "firing",
               20, "the muted rule to fire")  # fmt: skip
    # And `tally status` lists it among the alerts firing
    status = run_tally("status", env=env | {"TALLY_URL": base}, cwd=tmp_path)
    assert "alerts firing" in status.stdout
    assert "FR views burst" in status.stdout
    wait_until(lambda: client.get(f"/api/v1/alerts/rules/{rule_id}").json()["state"] == "resolved",
               20, "the muted rule to resolve")  # fmt: skip
    assert len(hook.requests) == 2
    assert len(slack.requests) == 2
    assert len(smtp.messages) == 2
    suppressed = [n for n in client.get("/api/v1/alerts/notifications").json()
                  if n["status"] == "suppressed"]  # fmt: skip
    assert len(suppressed) == 6  # firing and resolved, on three channels, kept unsent

    # Then no secret is in any API answer, dashboard page, metric or log line
    seen = [client.get(p).text for p in (
        "/api/v1/alerts/channels", "/api/v1/alerts/channels/hook", "/api/v1/alerts/rules",
        "/api/v1/alerts/history", "/api/v1/alerts/notifications", "/api/v1/health", "/metrics",
    )]  # fmt: skip
    browser = httpx.Client(base_url=base, timeout=30)
    browser.post("/login", data={"token": API_TOKEN, "next": "/alerts"})
    for path in ("/alerts", f"/alerts/{rule_id}"):
        page = browser.get(path)
        assert page.status_code == 200
        assert "FR views burst" in page.text
        seen.append(page.text)
    assert 'data-state="firing"' in seen[-1]  # the timeline drew the firing band
    metrics = client.get("/metrics").text
    assert 'tally_alerts_firing{rule="FR views burst"} 0.0' in metrics
    assert 'tally_alert_notifications_total{channel_kind="webhook",outcome="sent"} 2.0' in metrics
    dev.stop()
    seen.append(dev.output())
    for secret in SECRETS:
        assert not [s for s in seen if secret in s], f"{secret} leaked"
    browser.close()
    client.close()


def test_loopback_webhooks_need_the_allow_list(tmp_path: Path, procs: Callable[..., Proc]) -> None:
    port = free_port()
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_ANALYTICS_ON_STARTUP="false")
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=dev)
    client = api_client(base)
    for url in ("http://127.0.0.1:9/x", "http://localhost:9/x", "http://192.168.1.20/x"):
        r = client.post(
            "/api/v1/alerts/channels", json={"name": "h", "kind": "webhook", "url": url}
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "url"
        assert r.json()["error"]["reason"] == "url_not_allowed"
    # A rule naming a channel that does not exist: 422 naming it, nothing saved
    r = client.post("/api/v1/alerts/rules", json={
        "name": "r", "channels": ["h"],
        "spec": {"kind": "events", "condition": "above", "bound": 1}})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "channels.0"
    r = client.post("/api/v1/alerts/rules", json={"name": "r", "spec": {"kind": "events"}})
    assert r.status_code == 422
    assert "bound" in r.json()["error"]["message"]
    assert client.get("/api/v1/alerts/rules").json() == []
    client.close()
