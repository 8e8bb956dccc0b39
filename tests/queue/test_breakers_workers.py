"""Circuit breakers across two real worker processes: open, defer without a try, close."""

from __future__ import annotations

import time

import orjson
import pytest
import redis

from tally.infra.breakers import Breakers, specs
from tests.conftest import free_port, wait_until
from tests.http_events import make_events
from tests.queue.conftest import Stack

pytestmark = pytest.mark.slow

OVERRIDES = {"external_api": {"fail_max": 3, "reset_timeout_s": 3}}


def test_breaker_opens_from_two_workers_defers_then_closes(stack: Stack) -> None:
    # Given two worker processes sharing the external_api breaker (3 failures, 3 s open)
    stack.env["TALLY_BREAKERS"] = orjson.dumps(OVERRIDES).decode()
    for name in ("w1", "w2"):
        stack.worker("-Q", "default", "-c", "1", "--name", f"{name}@test", name=name)
    wait_until(
        lambda: len(stack.client.get("/api/v1/health").json().get("workers", [])) == 2,
        30,
        "two workers seen",
    )
    client = redis.Redis.from_url(stack.redis_url)
    view = Breakers(client, specs(OVERRIDES))
    log_key = "test:external"
    args = {"redis_url": stack.redis_url, "key": log_key}

    # When three jobs fail through it at once
    failing = [stack.enqueue("test.external", kwargs={**args, "fail": True}) for _ in range(3)]
    for job_id in failing:
        stack.wait_status(job_id, "failed")

    # Then both processes took part, and the breaker is open for everyone
    entries = [e.decode() if isinstance(e, bytes) else e for e in client.lrange(log_key, 0, -1)]
    pids = {entry.split(":")[0] for entry in entries}
    assert len(pids) == 2, pids
    states = {b["name"]: b for b in stack.client.get("/api/v1/health").json()["breakers"]}
    assert states["external_api"]["state"] == "open"
    assert states["database"]["state"] == "closed"

    # When a job that would succeed arrives while it is open
    opened = time.monotonic()
    ok = stack.enqueue("test.external", kwargs={**args, "fail": False})
    deferred = stack.wait_status(ok, "retrying", timeout_s=10)
    assert "deferred" in (deferred["error"] or "")
    assert "external_api" in deferred["error"]

    # Then it runs as the half-open trial once the timeout passes, on its first try, and
    # its success closes the breaker (max_tries is 1: a burnt try would have failed it)
    done = stack.wait_status(ok, "succeeded", timeout_s=20)
    assert done["attempts"] == 1
    assert time.monotonic() - opened < 15
    state = next(b for b in view.states() if b["name"] == "external_api")
    assert state["state"] == "closed"
    assert state["failures"] == 0
    client.close()


def test_store_tasks_open_the_database_breaker_then_flushes_wait(stack: Stack) -> None:
    # Given a worker whose ClickHouse server is down (a closed loopback port), with a
    # `database` breaker of 2 failures and 30 s
    closed = free_port()
    overrides = {"database": {"fail_max": 2, "reset_timeout_s": 30}}
    stack.env.update(
        CLICKHOUSE_URL=f"http://127.0.0.1:{closed}",
        TALLY_BREAKERS=orjson.dumps(overrides).decode(),
        TALLY_MAX_TRIES="2",
    )
    worker = stack.worker("-c", "1", name="nostore")
    assert stack.client.post("/api/v1/events", json=make_events(5)).status_code == 200

    # When a flush runs: both its tries fail on the store
    first = stack.client.post("/api/v1/events/flush").json()["job_id"]
    failed = stack.wait_status(first, "failed", timeout_s=60)
    assert "StoreUnavailable" in failed["error"]

    # Then the breaker is open; the next flush is skipped at once, the events stay buffered,
    # and an analytics run is deferred without using a try
    health = stack.client.get("/api/v1/health").json()
    assert next(b for b in health["breakers"] if b["name"] == "database")["state"] == "open"
    second = stack.client.post("/api/v1/events/flush").json()["job_id"]
    skipped = stack.wait_status(second, "succeeded", timeout_s=30)
    assert skipped["result"]["status"].startswith("skipped: circuit breaker 'database' is open")
    assert stack.client.get("/api/v1/events/buffer").json()["events"] == 5
    run = stack.client.post("/api/v1/analytics/run").json()["job_id"]
    deferred = stack.wait_status(run, "retrying", timeout_s=30)
    assert "deferred" in deferred["error"]
    assert deferred["attempts"] == 1
    assert "store not reachable at start" in worker.output()
