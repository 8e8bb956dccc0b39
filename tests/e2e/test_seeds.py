"""Seeds 000 and 004's documented calls, unchanged, against a real Redis-mode Tally.

Seed 002's ARQ API and seed 003's job API have their own modules (tests/api/), seed 001's
`start-all` is `tally up` (tests/cli/test_up.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from tally import keys
from tally.sdk import AnalyticsService, Client
from tally.settings import Settings
from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until
from tests.http_events import flush_until_empty, post_all

pytestmark = pytest.mark.slow


def seed_redis_env(redis_url: str, **extra: str) -> dict[str, str]:
    """Seed 000's and 004's way to name Redis: host, port and db, no URL."""
    where = urlsplit(redis_url)
    return clean_env(REDIS_HOST=str(where.hostname), REDIS_PORT=str(where.port),
                     REDIS_DB=where.path.lstrip("/"), **extra)  # fmt: skip


def test_seed_000s_redis_keys_are_read_as_its_document_reads_them(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given seed 000's .env (REDIS_HOST/PORT/DB, CLICKHOUSE_DATABASE, TABLE_NAME) and a worker
    env = seed_redis_env(redis_url, CLICKHOUSE_DATABASE="analytics", TABLE_NAME="user_events",
                         TALLY_DATA_DIR=str(tmp_path / "data"))  # fmt: skip
    port = free_port()
    api = procs("api", "--port", str(port), env=env, name="api")
    procs("worker", "-c", "4", env=env, name="worker")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    client = api_client(base)
    now = datetime.now(UTC)
    events = [{"event_type": "video_view", "entity_type": "video", "entity_id": f"v{i % 3}",
               "country": "FR" if i % 2 else "GB", "category": "music",
               "created_at": (now - timedelta(hours=i % 20)).isoformat()}
              for i in range(300)]  # fmt: skip
    assert post_all(client, events) == 300
    flush_until_empty(client)

    # When the analysis runs (its trigger_analytics_manually.py is this call)
    started = client.post("/api/v1/analytics/run").json()
    wait_until(lambda: client.get(started["status_url"]).json()["status"] == "succeeded",
               120, "the analytics run")  # fmt: skip

    # Then the five keys read as the seed's snippet reads them, expiring in 25 h
    where = urlsplit(redis_url)
    r = redis.Redis(host=str(where.hostname), port=int(where.port or 6379),
                    db=int(where.path.lstrip("/")), decode_responses=True)  # fmt: skip

    def get(key: str) -> Any:
        raw = r.get(key)
        assert isinstance(raw, str), f"{key} is missing"
        return json.loads(raw)

    data = get("analytics_popularity_by_country")
    assert sum(t["events"] for t in data["totals"].values()) == 300
    assert len(data["groups"]) == 2
    top = next(iter(data["groups"].values()))
    assert {row["entity_id"] for row in top} == {"v0", "v1", "v2"}
    for key in ("analytics_popularity_by_category", "analytics_trending_by_country",
                "analytics_trending_by_category"):  # fmt: skip
        assert get(key)["groups"]
    metadata = get("comprehensive_analytics_metadata")
    analysed = datetime.fromisoformat(metadata["last_analysis"])
    assert abs((datetime.now(UTC) - analysed).total_seconds()) < 300
    assert 24 * 3600 < r.ttl("analytics_popularity_by_country") <= 25 * 3600
    r.close()
    client.close()


def test_seed_004s_analytics_service_calls_and_its_celery_commands(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given seed 004's settings and its two commands, on Tally's Celery app
    env = seed_redis_env(redis_url, ANALYTICS_BATCH_SIZE="100000", ANALYTICS_FLUSH_INTERVAL="2",
                         TALLY_DATA_DIR=str(tmp_path / "data"),
                         TALLY_ANALYTICS_ON_STARTUP="false")  # fmt: skip
    celery = ("-A", "tally.celery_app")
    procs(*celery, "worker", "--loglevel=info", "-Q", "events", "-P", "threads", env=env,
          name="worker", module="celery")  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    service = AnalyticsService(Client(Settings()))

    # When code written against seed 004 tracks events with its fields
    seed_fields = {"user_id": 7, "session_id": "s1", "entity_type": "video",
                   "event_metadata": json.dumps({"source": "feed"}), "ip_address": "203.0.113.9",
                   "user_agent": "Mozilla/5.0", "referrer": "https://example.org/"}  # fmt: skip
    ids = [service.track_event(event_type="video_view", entity_id=f"v{i}",
                               created_at=datetime.now(UTC).isoformat(), **seed_fields)
           for i in range(5)]  # fmt: skip
    # Then they wait in Redis, and flush_events_now stores them (a worker runs the flush)
    assert len(set(ids)) == 5
    assert service.get_queue_size() == 5
    wait_until(lambda: _worker_consumes(env), 60, "the celery-started worker")
    report = service.flush_events_now()
    assert service.get_queue_size() == 0, report

    # And with `celery -A tally.celery_app beat`, the periodic flush empties the queue alone
    procs(*celery, "beat", "--loglevel=info", env=env, name="beat", module="celery")
    service.track_event({"event_type": "video_share", "entity_type": "video", "entity_id": "v1"})
    assert service.get_queue_size() == 1
    wait_until(lambda: service.get_queue_size() == 0, 60, "beat's flush")
    # A dict without event_type names the field
    with pytest.raises(Exception, match="event_type"):
        service.track_event({"entity_id": "v1"})


def _worker_consumes(env: dict[str, str]) -> bool:
    where = env["REDIS_HOST"], int(env["REDIS_PORT"]), int(env["REDIS_DB"])
    client = redis.Redis(host=where[0], port=where[1], db=where[2])
    try:
        return any(client.scan_iter(match=f"{keys.WORKER_HEARTBEAT_PREFIX}*", count=1000))
    finally:
        client.close()
