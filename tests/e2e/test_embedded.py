"""Embedded mode: `tally dev` ingests and flushes through the same code paths, no Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import orjson

from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until


def test_tally_dev_ingests_flushes_and_reports(tmp_path: Path, procs: Callable[..., Proc]) -> None:
    port = free_port()
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_BATCH_SIZE="1000")
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=dev)
    client = api_client(base, timeout=60)
    assert client.get("/api/v1/health").json()["mode"] == "embedded"
    assert "EMBEDDED MODE" in dev.output()

    # NDJSON with one bad line: the rest is kept, the bad one reported by index
    lines = [
        orjson.dumps({"event_id": str(uuid.uuid4()), "event_type": "video_view"})
        for _ in range(2500)
    ]
    lines.insert(7, b'{"event_type": "video_view", "country": "QQ"}')
    r = client.post(
        "/api/v1/events",
        content=b"\n".join(lines),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (2500, 1)
    assert body["errors"][0]["index"] == 7
    assert body["errors"][0]["reason"] == "invalid_country"

    # the size trigger (batch 1000) flushes on its own; an explicit flush finishes the rest
    client.post("/api/v1/events/flush", params={"wait": True})
    wait_until(
        lambda: client.get("/api/v1/store/stats").json()["events"] == 2500, 30, "2500 stored"
    )
    assert client.get("/api/v1/events/buffer").json()["events"] == 0

    # nothing usable: 422; too big: 413; malformed JSON: 422 naming the body
    assert client.post("/api/v1/events", json=[{"nope": 1}]).status_code == 422
    assert client.post("/api/v1/events", json=[{"event_type": "a"}] * 10_001).status_code == 413
    bad = client.post("/api/v1/events", content=b"{", headers={"content-type": "application/json"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "body"
    assert "tally_events_rejected_total" in client.get("/metrics").text
    client.close()
