"""Redis mode with a ClickHouse server, end to end: many workers (prefork too), one store."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tally.analytics.compute import compute, parse_as_of
from tally.analytics.params import AnalyticsParams
from tally.events.accept import AcceptOptions, accept
from tally.store.chdb import ChdbStore
from tally.store.sql import Names
from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until
from tests.http_events import flush_until_empty, post_all, stored

pytestmark = pytest.mark.slow

TYPES = ("video_view", "video_share", "video_favorite", "video_replay", "video_skip")


def varied_events(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """Events over 3 days, several countries, categories and types: analytics has work."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    return [
        {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "event_type": rng.choice(TYPES),
            "entity_type": "video",
            "entity_id": f"v{int(rng.paretovariate(1.2)) % 400}",
            "country": rng.choice(("FR", "GB", "DE", "US")),
            "category": rng.choice(("music", "sport", "news")),
            "created_at": (now - timedelta(seconds=rng.random() * 70 * 3600)).isoformat(),
        }
        for _ in range(n)
    ]


def test_many_workers_on_a_server_store_every_event_once_and_compute_chdbs_answers(
    redis_url: str, clickhouse_server: Any, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given an API, a prefork worker flushing, a threads worker on every queue and a beat,
    # all on one ClickHouse server
    database = f"e2e_{uuid.uuid4().hex[:8]}"
    env = clean_env(
        REDIS_URL=redis_url,
        CLICKHOUSE_URL=clickhouse_server.url,
        CLICKHOUSE_DATABASE=database,
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_FLUSH_INTERVAL_S="5",
    )
    port = free_port()
    procs("worker", "-Q", "events", "-c", "2", "--pool", "prefork", env=env, name="prefork")
    procs("worker", "-c", "2", env=env, name="threads")
    procs("beat", env=env, name="beat")
    api = procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    client = api_client(base, timeout=60)
    wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "healthy workers")

    # When 100,000 events arrive over HTTP, and 20,000 of them again (client retries)
    events = varied_events(100_000)
    assert post_all(client, events) == 100_000
    assert post_all(client, events[:20_000]) == 20_000
    flush_until_empty(client)
    # Then each is stored exactly once
    assert stored(client) == 100_000

    # And analytics on the server give the answers chDB gives on the same events
    run = client.post("/api/v1/analytics/run", json={"wait": True, "timeout_s": 120})
    assert run.status_code == 200, run.text
    as_of = parse_as_of(run.json()["as_of"])
    local = ChdbStore(tmp_path / "chdb", Names("analytics", "user_events"), 90)
    local.upgrade()
    lines = [
        line
        for i in range(0, len(events), 10_000)
        for line in accept(events[i : i + 10_000], AcceptOptions()).lines
    ]
    assert local.insert_ndjson(b"\n".join(lines), 3600) == 100_000
    reference = compute(local, AnalyticsParams(), as_of)
    local.close()
    for metric in ("popularity", "trending"):
        for by in ("country", "category"):
            served = client.get(f"/api/v1/analytics/{metric}", params={"by": by}).json()
            expected = reference.payloads[(metric, by)]["groups"]
            assert served["groups"].keys() == expected.keys(), (metric, by)
            for group, rows in expected.items():
                got = served["groups"][group]
                assert [(r["entity_id"], r["events"]) for r in got] == [
                    (r["entity_id"], r["events"]) for r in rows
                ], (metric, by, group)
                key = "score" if metric == "popularity" else "trend_score"
                assert [r[key] for r in got] == pytest.approx([r[key] for r in rows])
    client.close()


def test_a_server_killed_mid_flush_and_restarted_loses_nothing_and_doubles_nothing(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    from tests.clickhouse_server import ClickHouseServer

    # Given a private ClickHouse server (this test kills it), a worker and an API
    server = ClickHouseServer(tmp_path / "clickhouse", free_port(), free_port())
    server.start()
    env = clean_env(
        REDIS_URL=redis_url,
        CLICKHOUSE_URL=server.url,
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_FLUSH_INTERVAL_S="3600",
        TALLY_BREAKERS='{"database": {"fail_max": 2, "reset_timeout_s": 3}}',
        TALLY_MAX_TRIES="1",
    )
    port = free_port()
    worker = procs("worker", "-c", "2", env=env, name="worker")
    api = procs("api", "--port", str(port), env=env, name="api")
    wait_http(f"http://127.0.0.1:{port}/api/v1/health", proc=api)
    client = api_client(f"http://127.0.0.1:{port}", timeout=60)
    try:
        wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "a worker")
        first = varied_events(30_000, seed=3)
        assert post_all(client, first) == 30_000
        # When the server dies while a flush runs, and events keep arriving
        client.post("/api/v1/events/flush")
        server.stop()
        more = varied_events(20_000, seed=4)
        assert post_all(client, more) == 20_000

        # Then flushes fail until the database breaker opens; the events wait in Redis
        def breaker_open() -> bool:
            client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 20})
            breakers = client.get("/api/v1/health").json()["breakers"]
            return bool(next(b for b in breakers if b["name"] == "database")["state"] == "open")

        wait_until(breaker_open, 60, "the database breaker to open")
        assert client.get("/api/v1/events/buffer").json()["events"] > 0

        # When the server comes back on its data, Then the same worker stores everything once
        server.start()
        flush_until_empty(client, timeout_s=120)
        assert stored(client) == 50_000
        assert worker.popen.poll() is None  # never restarted
        breakers = client.get("/api/v1/health").json()["breakers"]
        assert next(b for b in breakers if b["name"] == "database")["state"] == "closed"
    finally:
        client.close()
        server.stop()
