"""`job`, `metric` and `analytics` rules in `tally dev`: fired by the platform's own signals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.alerts.receiver import Receiver
from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until

ROOT = Path(__file__).resolve().parents[2]


def notified(receiver: Receiver, rule: str) -> list[tuple[str, str]]:
    """(kind, group) of each notification the receiver got for `rule`."""
    return [(b["kind"], b["group"]) for b in receiver.bodies() if b["rule"]["name"] == rule]


def create(client: httpx.Client, **rule: Any) -> None:
    r = client.post("/api/v1/alerts/rules", json={"channels": ["hook"], **rule})
    assert r.status_code == 201, r.text


def job_done(client: httpx.Client, job_id: str) -> bool:
    return client.get(f"/api/v1/jobs/{job_id}").json()["status"] in ("succeeded", "failed")


def test_job_metric_and_analytics_rules(
    tmp_path: Path, procs: Callable[..., Proc], receiver: Receiver
) -> None:
    port = free_port()
    env = clean_env(
        TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_ALERTS_TICK_S="0.5",
        TALLY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1", TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_TASK_MODULES="tests.alerts.tasks", PYTHONPATH=str(ROOT),
    )  # fmt: skip
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=dev)
    client = api_client(base)
    r = client.post("/api/v1/alerts/channels",
                    json={"name": "hook", "kind": "webhook", "url": receiver.url()})  # fmt: skip
    assert r.status_code == 201, r.text
    create(client, name="export failed", spec={"kind": "job", "tasks": ["test.export"]})
    create(client, name="failures", every_s=1,
           spec={"kind": "metric", "metric": "failed_jobs", "task": "test.export",
                 "window_s": 3600, "condition": "above", "bound": 0})  # fmt: skip
    create(client, name="v1 in the FR top 2",
           spec={"kind": "analytics", "metric": "popularity", "by": "country", "group": "fr",
                 "top_n": 2, "condition": "enters", "entity": "video:v1"})  # fmt: skip

    # When a watched task fails on both its tries: one notification (retries are not failures)
    job = client.post("/api/v1/jobs", json={"task": "test.export", "kwargs": {"fail": True}})
    job_id = job.json()["job_id"]
    wait_until(lambda: job_done(client, job_id), 30, "the export to fail for good")
    wait_until(lambda: notified(receiver, "export failed") == [("firing", "test.export")], 20,
               "the job alert")  # fmt: skip
    body = next(b for b in receiver.bodies() if b["rule"]["name"] == "export failed")
    assert job_id in body["note"]
    assert "refused the file" in body["note"]
    # And the metric rule sees one failed job of that task in the last hour
    wait_until(lambda: notified(receiver, "failures") == [("firing", "test.export")], 20,
               "the failed-jobs alert")  # fmt: skip
    # And the failed-jobs rule replays the job history: it would have fired once
    preview = client.post("/api/v1/alerts/rules/failures/preview", params={"days": 1})
    assert preview.status_code == 200, preview.text
    assert preview.json()["fired"] == 1
    refused = client.post("/api/v1/alerts/rules/export%20failed/preview")
    assert refused.status_code == 422
    assert refused.json()["error"]["reason"] == "not_replayable"
    # When the task succeeds, the job rule resolves
    ok = client.post("/api/v1/jobs", json={"task": "test.export", "kwargs": {"fail": False}})
    wait_until(lambda: job_done(client, ok.json()["job_id"]), 30, "the export to succeed")
    wait_until(lambda: notified(receiver, "export failed")[-1:] == [("resolved", "test.export")],
               20, "the job alert to resolve")  # fmt: skip

    # When video v1 leads FR after an analytics run, the analytics rule fires
    now = datetime.now(UTC).isoformat()
    events = [{"event_type": "video_view", "entity_type": "video", "entity_id": f"v{i % 3}",
               "country": "FR", "created_at": now} for i in range(10)]  # fmt: skip
    events += [{**events[1], "entity_id": "v1"} for _ in range(10)]
    assert client.post("/api/v1/events", json=events).json()["accepted"] == 20
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 30})
    run = client.post("/api/v1/analytics/run", json={"wait": True, "timeout_s": 60})
    assert run.status_code == 200, run.text
    wait_until(lambda: notified(receiver, "v1 in the FR top 2") == [("firing", "video:v1")], 20,
               "the analytics alert")  # fmt: skip
    body = next(b for b in receiver.bodies() if b["rule"]["name"] == "v1 in the FR top 2")
    assert body["value"] == 1
    assert "rank 1" in body["note"]
    client.close()
