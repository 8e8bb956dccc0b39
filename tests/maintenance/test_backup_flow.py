"""A Redis-mode deployment backed up during ingest, restored into a fresh data directory;
its monitoring, catalog and query statistics read through the API and the dashboard."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

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


def views(n: int, at: datetime, prefix: str) -> list[dict[str, Any]]:
    return [{"event_type": "video_view", "entity_type": "video", "entity_id": f"v{i % 9}",
             "country": ("FR", "DE", "US")[i % 3], "user_id": f"{prefix}{i}",
             "created_at": (at - timedelta(seconds=i)).isoformat()} for i in range(n)]  # fmt: skip


def ended(client: httpx.Client, task: str, **kwargs: Any) -> dict[str, Any]:
    r = client.post("/api/v1/jobs", json={"task": task, "kwargs": kwargs})
    assert r.status_code in (200, 201, 202), r.text
    job_id = r.json()["job_id"]
    wait_until(lambda: client.get(f"/api/v1/jobs/{job_id}").json()["status"]
               in ("succeeded", "failed"), 120, f"{task} to end")  # fmt: skip
    job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
    return job


def popular(run: Callable[..., Any], as_of: str) -> dict[str, Any]:
    out: dict[str, Any] = run(as_of)
    return {g: [(r["entity_id"], round(r["score"], 6)) for r in rows]
            for g, rows in out["groups"].items()}  # fmt: skip


def test_a_backup_taken_during_ingest_restores_the_same_analytics_elsewhere(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    backups = tmp_path / "backups"
    env = clean_env(
        REDIS_URL=redis_url, TALLY_DATA_DIR=str(tmp_path / "a"), TALLY_BACKUP_DIR=str(backups),
        TALLY_ANALYTICS_ON_STARTUP="false", TALLY_MONITORING_INTERVAL_S="5",
        TALLY_BEAT_LOCK_TTL_S="2", TALLY_HEARTBEAT_S="1",
    )  # fmt: skip
    assert run_tally("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    port = free_port()
    api = procs("api", "--port", str(port), env=env, name="api")
    owner = procs("worker", "-c", "4", env=env, name="owner")
    procs("beat", env=env, name="beat")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    client = api_client(base)
    wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "a healthy worker")
    # Given events of three hours ago, stored
    now = datetime.now(UTC)
    as_of = (now - timedelta(hours=1)).isoformat()
    assert client.post("/api/v1/events", json=views(3000, now - timedelta(hours=3), "old")
                       ).json()["accepted"] == 3000  # fmt: skip
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 60})

    # When a full backup is taken while new events arrive and are flushed
    stop = threading.Event()

    def ingest() -> None:
        with api_client(base) as feeder:
            n = 0
            while not stop.is_set():
                feeder.post("/api/v1/events", json=views(200, datetime.now(UTC), f"new{n}-"))
                feeder.post("/api/v1/events/flush")
                n += 1
                time.sleep(0.05)

    feeder = threading.Thread(target=ingest)
    feeder.start()
    try:
        time.sleep(1)
        full = ended(client, "maintenance.backup", kind="full")
    finally:
        stop.set()
        feeder.join(30)
    assert full["status"] == "succeeded", full
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 60})
    # Then the backup is listed, and an incremental one after more events builds on it
    assert client.post("/api/v1/events", json=views(500, datetime.now(UTC), "more")
                       ).json()["accepted"] == 500  # fmt: skip
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 60})
    inc = ended(client, "maintenance.backup", kind="incremental")
    assert inc["status"] == "succeeded", inc
    listed = {b["id"]: b for b in client.get("/api/v1/backups").json()}
    assert set(listed) == {full["result"]["id"], inc["result"]["id"]}
    assert listed[inc["result"]["id"]]["base"] == full["result"]["id"]
    # (smaller than the full one when merges have not rewritten the parts: test_backup.py)
    # And a restore while events wait to be stored is refused (nothing changes)
    client.post("/api/v1/events", json=views(50, datetime.now(UTC), "waiting"))
    refused = client.post(f"/api/v1/backups/{full['result']['id']}/restore", json={})
    refused_job = refused.json()["job_id"]
    wait_until(lambda: client.get(f"/api/v1/jobs/{refused_job}").json()["status"] == "failed",
               60, "the restore to be refused")  # fmt: skip
    assert "--force" in client.get(f"/api/v1/jobs/{refused_job}").json()["error"]
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 60})

    # And analytics as of an hour ago on the source
    def run_a(when: str) -> Any:
        r = client.post(
            "/api/v1/analytics/run", json={"as_of": when, "wait": True, "timeout_s": 120}
        )
        assert r.status_code == 200, r.text
        return client.get(
            "/api/v1/analytics/popularity", params={"by": "country", "as_of": when}
        ).json()

    source = popular(run_a, as_of)

    # When the full backup is restored into a fresh deployment (embedded, no Redis)
    fresh = clean_env(TALLY_DATA_DIR=str(tmp_path / "b"), TALLY_BACKUP_DIR=str(backups),
                      TALLY_ANALYTICS_ON_STARTUP="false")  # fmt: skip
    other_port = free_port()
    dev = procs("dev", "--port", str(other_port), env=fresh, name="dev")
    other_base = f"http://127.0.0.1:{other_port}"
    wait_http(f"{other_base}/api/v1/health", proc=dev)
    other = api_client(other_base)
    assert {b["id"] for b in other.get("/api/v1/backups").json()} == set(listed)
    r = other.post(f"/api/v1/backups/{full['result']['id']}/restore", json={})
    assert r.status_code == 202, r.text
    restore_job = r.json()["job_id"]
    wait_until(lambda: other.get(f"/api/v1/jobs/{restore_job}").json()["status"]
               in ("succeeded", "failed"), 120, "the restore")  # fmt: skip
    assert other.get(f"/api/v1/jobs/{restore_job}").json()["status"] == "succeeded"
    stats = other.get("/api/v1/store/stats").json()
    # Then it holds the old events and those flushed before the backup, and no later ones
    assert 3000 < stats["events"] < 3000 + 500 + stats["events"]
    assert stats["events"] <= client.get("/api/v1/store/stats").json()["events"] - 500

    # And analytics as of an hour ago are the same there as on the source
    def run_b(when: str) -> Any:
        r = other.post(
            "/api/v1/analytics/run", json={"as_of": when, "wait": True, "timeout_s": 120}
        )
        assert r.status_code == 200, r.text
        return other.get(
            "/api/v1/analytics/popularity", params={"by": "country", "as_of": when}
        ).json()

    assert popular(run_b, as_of) == source
    assert set(source) == {"FR", "DE", "US"}
    other.close()

    # Monitoring: the worker's own figures, the deployment's samples, the catalog, queries
    def collected() -> bool:
        rows = client.get("/api/v1/monitoring/processes").json()
        return any(r["pid"] == owner.pid for r in rows)

    try:
        wait_until(collected, 60, "monitoring.collect to record the worker")
    except AssertionError:
        jobs = client.get("/api/v1/jobs", params={"task": "monitoring.collect"}).json()["jobs"]
        rows = client.get("/api/v1/monitoring/processes").json()
        raise AssertionError(f"{jobs[:3]} {rows} pid {owner.pid}") from None
    mine = next(
        r for r in client.get("/api/v1/monitoring/processes").json() if r["pid"] == owner.pid
    )
    assert mine["rss_bytes"] > 50_000_000
    assert mine["open_files"] > 0
    roles = {r["role"] for r in client.get("/api/v1/monitoring/processes").json()
             if r["pid"] in (owner.pid, api.pid)}  # fmt: skip
    assert roles == {"worker", "api"}  # the API records itself: it has no heartbeat
    assert ended(client, "maintenance.refresh_catalog")["status"] == "succeeded"
    tables = {r["table_name"]: r for r in client.get("/api/v1/catalog").json()}
    assert tables["user_events"]["rows"] >= 3500
    assert ended(client, "maintenance.query_stats")["status"] == "succeeded"
    assert client.get("/api/v1/maintenance/query-stats", params={"by": "frequent"}).json()
    assert ended(client, "monitoring.task_statistics")["status"] == "succeeded"
    tasks = {r["task"] for r in client.get("/api/v1/monitoring/tasks").json()}
    assert {"events.flush", "maintenance.backup"} <= tasks
    browser = httpx.Client(base_url=base, timeout=30)
    browser.post("/login", data={"token": API_TOKEN, "next": "/"})
    wait_until(lambda: "Events stored per minute" in browser.get("/").text, 30,
               "the overview to draw the kept samples")  # fmt: skip
    page = browser.get("/maintenance").text
    assert full["result"]["id"] in page
    assert "user_events" in page
    browser.close()
    client.close()
