"""Redis mode end to end: HTTP ingest, a separate worker process, exact counts across faults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import (
    Proc,
    api_client,
    clean_env,
    free_port,
    wait_http,
    wait_until,
)
from tests.http_events import buffered, flush_until_empty, make_events, post_all, stored

pytestmark = pytest.mark.slow


def test_100k_events_over_http_are_stored_exactly_once_across_retries_and_a_kill(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    port = free_port()
    env = clean_env(
        REDIS_URL=redis_url,
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_FLUSH_INTERVAL_S="3600",  # flushes happen when the test asks, or by size
        TALLY_FLUSH_LOCK_TTL_S="2",
    )
    worker = procs("worker", "-c", "4", env=env, name="worker")
    api = procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    client = api_client(base, timeout=60)
    wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "a healthy worker")

    # Given 100,000 events posted over HTTP, When flushed, Then exactly 100,000 are stored
    events = make_events(100_000)
    assert post_all(client, events) == 100_000
    flush_until_empty(client)
    assert stored(client) == 100_000

    # Given the same events posted again (a client retry), Then still 100,000
    assert post_all(client, events) == 100_000
    flush_until_empty(client)
    assert stored(client) == 100_000

    # Given a worker that dies (SIGKILL) after inserting a batch and before acknowledging it
    worker.stop()
    crashing = procs(
        "worker", "-c", "2", env={**env, "TALLY_FAILPOINTS": "flush.after_insert"}, name="crash"
    )
    more = make_events(10_000)
    assert post_all(client, more) == 10_000
    client.post("/api/v1/events/flush")
    wait_until(lambda: crashing.popen.poll() is not None, 60, "the worker to kill itself")
    assert crashing.popen.returncode == -9
    assert buffered(client) > 0  # not acknowledged

    # When a new worker takes over, Then every event is stored exactly once
    procs("worker", "-c", "2", env=env, name="worker2")
    flush_until_empty(client)
    assert stored(client) == 110_000
    client.close()
