"""Seed 002's ARQ API calls, as its frontend makes them, against `tally dev`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until


def finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    wait_until(lambda: client.get(f"/api/v1/arq/status/{job_id}").json()["status"] == "complete",
               60, f"job {job_id}")  # fmt: skip
    out: dict[str, Any] = client.get(f"/api/v1/arq/result/{job_id}").json()
    return out


def test_seed_002s_calls_get_seed_002s_answers(tmp_path: Path, procs: Callable[..., Proc]) -> None:
    port = free_port()
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_ANALYTICS_ON_STARTUP="false",
                    ARQ_QUEUE_NAME="arq:comments")  # fmt: skip
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=dev)
    client = api_client(base)

    # Enqueue by seed 002's function names: the answer has its shape and links
    r = client.post("/api/v1/arq/enqueue", json={
        "function_name": "process_batch_comments",
        "kwargs": {"comments": ["Доставка быстрая", "Fast delivery"], "store": False}})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    job_id = body["data"]["job_id"]
    assert body["data"]["function"] == "process_batch_comments"
    assert body["data"]["status_url"] == f"/api/v1/arq/status/{job_id}"
    done = finished(client, job_id)
    assert done["success"] is True
    assert done["result"]["summary"]["languages"] == {"ru": 1, "en": 1}
    status = client.get(f"/api/v1/arq/status/{job_id}").json()
    assert status["status"] == "complete"
    assert status["finished_at"].endswith("Z")
    # Positional args, as ARQ's enqueue_job passes them
    r = client.post("/api/v1/arq/enqueue", json={"function_name": "analyze_text_morphology",
                                                  "args": ["Кошки бежали"]})  # fmt: skip
    words = finished(client, r.json()["job_id"])["result"]["words"]
    assert [w["lemma"] for w in words] == ["кошка", "бежать"]
    # Seed 002's system tasks resolve to Tally's
    r = client.post("/api/v1/arq/enqueue", json={"function_name": "backup_database"})
    assert r.json()["data"]["task"] == "maintenance.backup"
    assert finished(client, r.json()["job_id"])["result"]["kind"] == "full"
    r = client.post("/api/v1/arq/enqueue", json={"function_name": "cleanup_old_data"})
    assert finished(client, r.json()["job_id"])["success"] is True
    # A saved report by name is generate_report
    report = {"name": "weekly", "source": {"kind": "jobs", "hours": 1}, "format": "csv"}
    assert client.post("/api/v1/reports", json=report).status_code == 201
    r = client.post("/api/v1/arq/enqueue", json={"function_name": "generate_report",
                                                  "kwargs": {"report": "weekly"}})  # fmt: skip
    assert r.status_code == 200, r.text
    assert finished(client, r.json()["job_id"])["success"] is True
    # What Tally does not do is a clear 404; a missing function_name a 422 in FastAPI's shape
    r = client.post("/api/v1/arq/enqueue", json={"function_name": "send_notification"})
    assert r.status_code == 404
    assert "alert" in r.json()["error"]["message"]
    r = client.post("/api/v1/arq/enqueue", json={"args": []})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "function_name"]
    # Deferred, then aborted; unknown ids are not_found
    deferred = {"function_name": "tally.noop", "kwargs": {"sleep_s": 1}, "_defer_by": 60}
    r = client.post("/api/v1/arq/enqueue", json=deferred)
    later = r.json()["job_id"]
    assert client.get(f"/api/v1/arq/status/{later}").json()["status"] == "deferred"
    info = client.get("/api/v1/arq/queue/info").json()
    assert info["queue_name"] == "arq:comments"
    assert info["queued_jobs_count"] >= 1
    aborted = client.delete(f"/api/v1/arq/abort/{later}").json()
    assert aborted["aborted"] is True
    assert client.get(f"/api/v1/arq/status/{later}").json()["status"] == "complete"
    assert client.get("/api/v1/arq/status/nope").json() == {"job_id": "nope", "status": "not_found"}
    assert client.delete("/api/v1/arq/abort/nope").json()["status"] == "not_found"
    health = client.get("/api/v1/arq/health").json()
    assert (health["service"], health["healthy"]) == ("ARQ", True)
    assert health["details"]["redis_connected"] is True
    assert health["details"]["queue_info"]["queue_name"] == "arq:comments"
    # The same auth as the native API
    assert httpx.post(f"{base}/api/v1/arq/enqueue", json={"function_name": "tally.noop"}
                      ).status_code == 401  # fmt: skip
    client.close()
