"""Analytics in Redis mode: trigger and read over HTTP, and the start-up run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from tally import keys
from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until
from tests.http_events import flush_until_empty, make_events, post_all

pytestmark = pytest.mark.slow


def test_run_and_read_analytics_over_http(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given a worker that does not run analytics at start-up, and an API
    port = free_port()
    env = clean_env(
        REDIS_URL=redis_url,
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_FLUSH_INTERVAL_S="3600",
    )
    procs("worker", "-c", "2", env=env, name="worker")
    api = procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    client = api_client(base, timeout=60)

    # Then before any run: 404 with a clear message
    r = client.get("/api/v1/analytics/popularity", params={"by": "country"})
    assert r.status_code == 404
    assert "no analytics results yet" in r.json()["error"]["message"]

    # When events are stored and a run is triggered and awaited
    post_all(client, make_events(500))
    flush_until_empty(client)
    r = client.post("/api/v1/analytics/run", json={"wait": True, "timeout_s": 60}, timeout=90)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "success"
    assert r.json()["events_scanned"] == 500

    # Then the results read back, narrowed by group and limit
    r = client.get(
        "/api/v1/analytics/popularity", params={"by": "country", "group": "FR", "limit": 3}
    )
    assert r.status_code == 200, r.text
    rows = r.json()["groups"]["FR"]
    assert [row["rank"] for row in rows] == [1, 2, 3]
    assert sum(r2["events"] for r2 in rows) > 0
    assert client.get("/api/v1/analytics/metadata").json()["status"] == "success"
    assert client.get("/api/v1/analytics/trending", params={"by": "category"}).status_code == 200

    # And bad input is refused by name
    r = client.get("/api/v1/analytics/popularity", params={"by": "planet"})
    assert r.status_code == 422
    assert "by" in r.text
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = client.post("/api/v1/analytics/run", json={"as_of": future})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "as_of"

    # And a queued run (202) for a past as_of (backfill) completes, under keys of its own:
    # the live results seed 000's readers see stay as they were
    live_as_of = client.get("/api/v1/analytics/metadata").json()["as_of"]
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    r = client.post("/api/v1/analytics/run", json={"as_of": past})
    assert r.status_code == 202, r.text
    wait_until(
        lambda: client.get("/api/v1/analytics/metadata", params={"as_of": past}).status_code == 200,
        60,
        "the backfill run to publish",
    )
    backfill = client.get("/api/v1/analytics/metadata", params={"as_of": past}).json()
    assert backfill["as_of"][:13] == past[:13]
    assert client.get("/api/v1/analytics/metadata").json()["as_of"] == live_as_of
    # And asked to, a backfill replaces the live results
    r = client.post("/api/v1/analytics/run", json={"as_of": past, "publish": True})
    assert r.status_code == 202, r.text
    wait_until(
        lambda: client.get("/api/v1/analytics/metadata").json()["as_of"][:13] == past[:13],
        60,
        "the published backfill to replace the live results",
    )


def test_a_worker_runs_analytics_once_at_start_up(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    env = clean_env(REDIS_URL=redis_url, TALLY_DATA_DIR=str(tmp_path / "data"))
    client = redis.Redis.from_url(redis_url)
    procs("worker", "-c", "2", env=env, name="worker")
    wait_until(lambda: client.get(keys.ANALYTICS_METADATA) is not None, 60, "the start-up run")
    assert client.ttl(keys.ANALYTICS_METADATA) > 24 * 3600
