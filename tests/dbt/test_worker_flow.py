"""dbt inside a real `tally worker` that owns the embedded store (Redis mode): the starter
project builds, docs are served behind the login, and a failing test and a stale source
each fire a `job` alert naming the nodes, to a local webhook receiver."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.alerts.receiver import Receiver
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

pytestmark = pytest.mark.slow  # real workers and a beat


def views(n: int, hours_ago: float) -> list[dict[str, Any]]:
    at = (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()
    return [{"event_type": "video_view", "entity_type": "video", "entity_id": f"v{i % 3}",
             "country": "FR", "user_id": f"u{i}", "created_at": at} for i in range(n)]  # fmt: skip


def finished(client: httpx.Client, task: str) -> dict[str, Any]:
    job_id = client.post("/api/v1/jobs", json={"task": task}).json()["job_id"]

    def ended() -> bool:
        return client.get(f"/api/v1/jobs/{job_id}").json()["status"] in ("succeeded", "failed")

    wait_until(ended, 120, f"{task} to end")
    job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
    return job


def test_dbt_in_the_store_owner_builds_serves_docs_and_alerts_on_failures(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    receiver = Receiver()
    try:
        _run(redis_url, tmp_path, procs, receiver)
    finally:
        receiver.stop()


def _run(redis_url: str, tmp_path: Path, procs: Callable[..., Proc], receiver: Receiver) -> None:
    env = clean_env(
        REDIS_URL=redis_url, TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_ANALYTICS_ON_STARTUP="false", TALLY_ALERTS_TICK_S="0.5",
        TALLY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
    )  # fmt: skip
    for step in (("db", "upgrade"), ("dbt", "init")):
        done = run_tally(*step, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    project = tmp_path / "data" / "dbt"
    # Freshness in minutes, so events an hour old are stale
    sources = project / "models" / "sources.yml"
    sources.write_text(sources.read_text().replace("{count: 3, period: day}",
                                                   "{count: 30, period: minute}"))  # fmt: skip
    port = free_port()
    api = procs("api", "--port", str(port), env=env, name="api")
    procs("worker", "-c", "4", env=env, name="owner")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    client = api_client(base)
    wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "a healthy worker")
    assert client.post("/api/v1/events", json=views(40, hours_ago=2)).json()["accepted"] == 40
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 60})
    hook = {"name": "hook", "kind": "webhook", "url": receiver.url("/dbt")}
    assert client.post("/api/v1/alerts/channels", json=hook).status_code == 201
    rule = {"name": "dbt failing", "channels": ["hook"],
            "spec": {"kind": "job", "tasks": ["dbt.build", "dbt.source_freshness"]}}  # fmt: skip
    assert client.post("/api/v1/alerts/rules", json=rule).status_code == 201

    # When the starter project is built in the worker that owns the store
    built = finished(client, "dbt.build")
    # Then it is green, its nodes logged, and no alert is sent
    assert built["status"] == "succeeded", built
    assert built["result"]["failed"] == []
    runs = client.get("/api/v1/dbt/runs").json()
    assert runs[0]["command"] == "build"
    assert runs[0]["statuses"]["success"] == 1
    # And its docs are served behind the dashboard's login
    assert finished(client, "dbt.docs_generate")["status"] == "succeeded"
    anonymous = httpx.get(f"{base}/dbt/docs/index.html", follow_redirects=False)
    assert anonymous.status_code == 303
    browser = httpx.Client(base_url=base, timeout=30)
    browser.post("/login", data={"token": API_TOKEN, "next": "/dbt"})
    docs = browser.get("/dbt/docs/index.html")
    assert docs.status_code == 200
    assert "dbt" in docs.text
    assert browser.get("/dbt/docs/manifest.json").json()["metadata"]["invocation_id"]
    page = browser.get("/dbt")
    assert "daily_entity_events" in page.text
    time.sleep(1.5)
    assert receiver.requests == []

    # When a test fails, and the source is stale
    (project / "tests" / "no_views.sql").write_text(
        "select * from {{ ref('daily_entity_events') }} where events > 0\n"
    )
    failed = finished(client, "dbt.build")
    stale = finished(client, "dbt.source_freshness")
    # Then both jobs fail for good, each naming its node, and each fires the rule once
    assert failed["status"] == "failed"
    assert "test.tally_events.no_views" in failed["error"]
    assert failed["attempts"] == 1  # a failed test is not tried again
    assert stale["status"] == "failed"
    assert "source.tally_events.tally.user_events" in stale["error"]
    try:
        wait_until(lambda: len(receiver.requests) >= 2, 30, "two alerts")
    except AssertionError:
        history = client.get("/api/v1/alerts/history").json()
        notes = client.get("/api/v1/alerts/notifications").json()
        raise AssertionError(f"{len(receiver.requests)} sent; history {history}; {notes}") from None
    time.sleep(1.5)
    bodies = [orjson.dumps(r.json()).decode() for r in receiver.requests]
    assert len(bodies) == 2
    assert any("test.tally_events.no_views" in b for b in bodies)
    assert any("source.tally_events.tally.user_events" in b for b in bodies)
    assert all('"kind":"firing"' in b for b in bodies)
    browser.close()
    client.close()
