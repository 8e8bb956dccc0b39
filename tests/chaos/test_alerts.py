"""Each state change reaches the receiver once: two beats, workers, a kill mid-send, 500s.

Redis mode with a live ClickHouse server (any worker may evaluate) and PostgreSQL. The first
worker dies right after sending the firing notification and before marking it sent; the
webhook answers 500 three times to the resolve. Counted at the receiver: the firing id is
accepted twice at most (the killed send and its one repeat), the resolve once, and every
attempt is in the notification's log.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.alerts.receiver import Receiver
from tests.conftest import (
    Proc,
    api_client,
    clean_env,
    free_port,
    run_tally,
    wait_http,
    wait_until,
)


def views(n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [{"event_type": "video_view", "entity_type": "video", "entity_id": "v1",
             "country": "FR", "created_at": now} for _ in range(n)]  # fmt: skip


def accepted(receiver: Receiver) -> Counter[str]:
    """Requests answered 2xx, by notification id (the receiver answers 500 while failing)."""
    return Counter(r.headers["Idempotency-Key"] for r in receiver.requests if r.status < 300)


def test_each_state_change_is_notified_once_across_a_crash_and_retries(
    redis_url: str,
    postgres_url: str,
    clickhouse_server: Any,
    tmp_path: Path,
    procs: Callable[..., Proc],
) -> None:
    receiver = Receiver()
    try:
        _run(redis_url, postgres_url, clickhouse_server, tmp_path, procs, receiver)
    finally:
        receiver.stop()


def _run(redis_url: str, postgres_url: str, clickhouse_server: Any, tmp_path: Path,
         procs: Callable[..., Proc], receiver: Receiver) -> None:  # fmt: skip
    env = clean_env(
        REDIS_URL=redis_url, DATABASE_URL=postgres_url, CLICKHOUSE_URL=clickhouse_server.url,
        CLICKHOUSE_DATABASE=f"alerts_{uuid.uuid4().hex[:8]}", TALLY_DATA_DIR=str(tmp_path / "d"),
        TALLY_ANALYTICS_ON_STARTUP="false", TALLY_ALERTS_TICK_S="0.5",
        TALLY_ALERTS_SEND_LEASE_S="3",
        TALLY_ALERTS_BACKOFF_S="0.3", TALLY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        TALLY_BEAT_LOCK_TTL_S="2", TALLY_HEARTBEAT_S="1",
        # Three 500s open the channel's breaker; it lets a trial through 2 s later.
        TALLY_BREAKERS='{"external_api": {"fail_max": 3, "reset_timeout_s": 2}}',
    )  # fmt: skip
    upgraded = run_tally("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    port = free_port()
    api = procs("api", "--port", str(port), env=env, name="api")
    procs("beat", env=env, name="beat-a")
    procs("beat", env=env, name="beat-b")
    # The first worker dies right after its first send, before marking it sent
    dying = {**env, "TALLY_FAILPOINTS": "alerts.after_send"}
    crashing = procs("worker", "-c", "2", env=dying, name="crashing")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    client = api_client(base)
    wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "a healthy worker")

    # Given a webhook and a rule: more than 20 FR views in the last hour
    hook = {"name": "hook", "kind": "webhook", "url": receiver.url("/ok")}
    r = client.post("/api/v1/alerts/channels", json=hook)
    assert r.status_code == 201, r.text
    rule = {"name": "burst", "every_s": 1, "channels": ["hook"],
            "spec": {"kind": "events", "country": "FR", "window_s": 3600, "condition": "above",
                     "bound": 20}}  # fmt: skip
    rule_id = client.post("/api/v1/alerts/rules", json=rule).json()["id"]

    # When 50 views are stored: the rule fires, and the worker dies after sending
    assert client.post("/api/v1/events", json=views(50)).json()["accepted"] == 50
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 30})
    wait_until(lambda: crashing.popen.poll() is not None, 60, "the worker to kill itself")
    assert crashing.popen.returncode == -9
    assert len(accepted(receiver)) == 1
    # And two workers take over: the unmarked send goes again once its lease ends (same id)
    procs("worker", "-c", "2", env=env, name="worker-a")
    procs("worker", "-c", "2", env=env, name="worker-b")
    wait_until(lambda: list(accepted(receiver).values()) == [2], 60, "the repeat of the send")
    # And the resolve (the bound raised past the views) meets three 500s
    receiver.fail_next = 3
    raised = {**rule, "spec": {**rule["spec"], "bound": 1000}}  # type: ignore[dict-item]
    assert client.put(f"/api/v1/alerts/rules/{rule_id}", json=raised).status_code == 200

    def settled() -> bool:
        rows = client.get("/api/v1/alerts/notifications", params={"rule": rule_id}).json()
        return len(rows) == 2 and all(n["status"] == "sent" for n in rows)

    history = client.get("/api/v1/alerts/history", params={"rule": rule_id}).json()
    try:
        wait_until(settled, 90, "both notifications to be sent")
    except AssertionError:
        rows = client.get("/api/v1/alerts/notifications", params={"rule": rule_id}).json()
        raise AssertionError(f"history {history}\nnotifications {rows}") from None
    history = client.get("/api/v1/alerts/history", params={"rule": rule_id}).json()
    assert [h["to_state"] for h in reversed(history)] == ["firing", "resolved"]

    # Then: the firing id accepted at most twice (the killed send, one repeat), the resolve once
    rows = client.get("/api/v1/alerts/notifications", params={"rule": rule_id}).json()
    notes = {n["kind"]: n for n in rows}
    counts = accepted(receiver)
    assert set(counts) == {notes["firing"]["id"], notes["resolved"]["id"]}
    assert counts[notes["firing"]["id"]] == 2
    assert counts[notes["resolved"]["id"]] == 1
    # And every attempt is in the log: the interrupted one, then the repeat; three 500s, then 200
    firing_log = [(a["outcome"], a["status_code"]) for a in notes["firing"]["attempt_log"]]
    assert firing_log == [("interrupted", None), ("sent", 200)]
    resolve_log = [(a["outcome"], a["status_code"]) for a in notes["resolved"]["attempt_log"]]
    assert resolve_log == [("failed", 500)] * 3 + [("sent", 200)]
    assert len(receiver.requests) == 2 + 4
    client.close()
