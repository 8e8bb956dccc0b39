"""Seed 003's job API calls, as its frontend makes them, against `tally dev`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until


def finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    def done() -> bool:
        return client.get(f"/api/jobs/{job_id}").json()["status"] in ("completed", "failed")

    wait_until(done, 60, f"job {job_id}")
    out: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return out


def test_seed_003s_calls_get_seed_003s_answers(tmp_path: Path, procs: Callable[..., Proc]) -> None:
    # Given a running Tally
    port = free_port()
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_ANALYTICS_ON_STARTUP="false")
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=dev)
    client = api_client(base)
    before = client.get("/api/jobs/status").json()

    # When seed 003's frontend creates a cleanup job: its answer's shape
    r = client.post("/api/jobs/cleanup", json={})
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"job_id", "status"}
    assert r.json()["status"] in ("pending", "running", "completed")
    job = finished(client, r.json()["job_id"])
    # Then the job reads back in its words: id, status, progress, result
    assert job["id"] == r.json()["job_id"]
    assert job["status"] == "completed"
    assert job["progress"] in (None, 100) or isinstance(job["progress"], int)
    assert "removed" in job["result"]
    assert job["job_type"] == "maintenance.cleanup"

    # A daily backup at seed 003's critical priority is a full backup at Tally's highest
    r = client.post("/api/jobs/backup?priority=2", json={"backup_type": "daily"})
    backup = finished(client, r.json()["job_id"])
    assert backup["status"] == "completed", backup
    assert (backup["result"]["kind"], backup["priority"]) == ("full", 9)
    hourly = finished(client, client.post("/api/jobs/backup", json={}).json()["job_id"])
    assert (hourly["result"]["kind"], hourly["priority"]) == ("incremental", 5)

    # A Tally task by its own name, with the payload as its arguments
    r = client.post("/api/jobs/tally.noop?priority=1", json={"sleep_s": 0})
    noop = finished(client, r.json()["job_id"])
    assert (noop["status"], noop["priority"], noop["payload"]["sleep_s"]) == ("completed", 7, 0)

    # The queue's status counts today's completed jobs
    status = client.get("/api/jobs/status").json()
    assert set(status) >= {"pending", "processing", "completed_today"}
    assert status["completed_today"] - before["completed_today"] == 4
    assert all(isinstance(v, int) for v in status.values())

    # Bad input names its field; what Tally does not do is a clear 404
    r = client.post("/api/jobs/scrape", json={"source": "reddit", "query": "OVH", "limit": 50})
    assert r.status_code == 404
    assert "scrape" in r.json()["error"]["message"]
    r = client.post("/api/jobs/backup", json={"backup_type": "weekly"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "backup_type"]
    r = client.post("/api/jobs/cleanup?priority=3", json={})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "priority"]
    r = client.post("/api/jobs/tally.noop", json={"no_such_argument": 1})
    assert r.status_code == 422
    assert "no_such_argument" in r.json()["detail"][0]["msg"]
    assert client.get("/api/jobs/nope").status_code == 404
    after = client.get("/api/jobs/status").json()
    assert after["completed_today"] == status["completed_today"]  # nothing half-made

    # The same auth as the native API
    assert httpx.post(f"{base}/api/jobs/cleanup", json={}).status_code == 401
    assert httpx.get(f"{base}/api/jobs/{job['id']}").status_code == 401
    client.close()
