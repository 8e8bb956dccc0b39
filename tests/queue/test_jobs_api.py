"""SPEC §5 over HTTP against real `tally worker` processes on real Redis."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from tests.conftest import API_TOKEN
from tests.queue.conftest import Stack

pytestmark = pytest.mark.slow


def test_enqueue_read_result_list_and_refusals(stack: Stack) -> None:
    stack.worker("-c", "2")
    c = stack.client

    # Bad input: unknown task 404, bad argument 422 naming it, priority out of range 422
    r = c.post("/api/v1/jobs", json={"task": "no.such.task"})
    assert r.status_code == 404
    assert "no.such.task" in r.json()["error"]["message"]
    r = c.post("/api/v1/jobs", json={"task": "test.add", "kwargs": {"a": "x"}})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "kwargs.a"
    r = c.post("/api/v1/jobs", json={"task": "test.add", "kwargs": {"b": 1}})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "kwargs.a"
    r = c.post("/api/v1/jobs", json={"task": "test.add", "kwargs": {"a": 1, "zz": 1}})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "kwargs.zz"
    r = c.post("/api/v1/jobs", json={"task": "test.add", "kwargs": {"a": 1}, "priority": 10})
    assert r.status_code == 422
    assert "priority" in r.text
    assert c.get("/api/v1/jobs/nope").status_code == 404
    assert c.get("/api/v1/jobs/nope/result").status_code == 404

    # A job runs; its record and result are readable
    job_id = stack.enqueue("test.add", args=[2], kwargs={"b": 3})
    done = stack.wait_status(job_id, "succeeded")
    assert done["result"] == 5
    assert done["attempts"] == 1
    assert done["max_attempts"] == 3
    assert done["started_at"] >= done["created_at"]
    assert done["finished_at"] >= done["started_at"]
    r = c.get(f"/api/v1/jobs/{job_id}/result")
    assert r.status_code == 200
    assert r.json()["result"] == 5
    # A finished job cannot be aborted
    r = c.delete(f"/api/v1/jobs/{job_id}")
    assert r.status_code == 409
    assert r.json()["error"]["status"] == "succeeded"

    # The result of an unfinished job is 409 with its status
    long_id = stack.enqueue("test.sleepy", kwargs={"seconds": 2})
    r = c.get(f"/api/v1/jobs/{long_id}/result")
    assert r.status_code == 409
    assert r.json()["error"]["status"] in ("queued", "running")

    # History, queues and tasks
    stack.wait_status(long_id, "succeeded")
    listed = c.get("/api/v1/jobs", params={"status": "succeeded", "task": "test.add"}).json()
    assert [j["job_id"] for j in listed["jobs"]] == [job_id]
    assert c.get("/api/v1/jobs", params={"status": "nope"}).status_code == 422
    default = next(q for q in c.get("/api/v1/queues").json()["queues"] if q["name"] == "default")
    assert (default["succeeded_24h"], default["pending"], len(default["workers"])) == (2, 0, 1)
    schedule = {row["name"]: row for row in c.get("/api/v1/schedule").json()["schedule"]}
    assert set(schedule) == {
        "flush-events",
        "analytics-daily",
        "alerts-evaluate",
        "reports-tick",
        "reports-cleanup",
        "maintenance-catalog",
        "maintenance-query-stats",
        "maintenance-cleanup",
        "maintenance-backup",
        "maintenance-full-backup",
        "monitoring-collect",
        "monitoring-task-statistics",
    }  # fmt: skip (dbt's schedules are off until TALLY_DBT_*_SCHEDULE is set)
    assert schedule["analytics-daily"]["next_run"].endswith("02:00:00+00:00")
    names = {t["name"] for t in c.get("/api/v1/tasks").json()["tasks"]}
    assert {"test.add", "tally.noop", "events.flush", "analytics.run"} <= names


def test_the_same_job_id_twice_is_one_job(stack: Stack) -> None:
    stack.worker("-c", "2")
    body = {
        "kwargs": {"redis_url": stack.redis_url, "key": "runs", "label": "x"},
        "job_id": "once-1",
    }
    first = stack.client.post("/api/v1/jobs", json={"task": "test.record", **body})
    second = stack.client.post("/api/v1/jobs", json={"task": "test.record", **body})
    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"] == "once-1"
    assert (first.json()["created"], second.json()["created"]) == (True, False)
    stack.wait_status("once-1", "succeeded")
    # Sent again after it finished: still the same job, not run again
    third = stack.client.post("/api/v1/jobs", json={"task": "test.record", **body})
    assert third.json()["status"] == "succeeded"
    time.sleep(0.5)
    assert redis.Redis.from_url(stack.redis_url).lrange("runs", 0, -1) == [b"x"]
    # Another task under a used job_id is a conflict
    other = stack.client.post("/api/v1/jobs", json={"task": "test.add", "kwargs": {"a": 1},
                                                    "job_id": "once-1"})  # fmt: skip
    assert other.status_code == 409


def test_progress_is_visible_while_the_job_runs(stack: Stack) -> None:
    stack.worker("-c", "1")
    job_id = stack.enqueue("test.sleepy", kwargs={"seconds": 3, "steps": 30})
    seen: list[int] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = stack.job(job_id)
        if job["status"] == "running" and job["progress"] is not None:
            seen.append(job["progress"])
        if job["status"] == "succeeded":
            break
        time.sleep(0.1)
    mid = [p for p in seen if 0 < p < 100]
    assert len(set(mid)) >= 3, seen  # several distinct values while running
    assert mid == sorted(mid)
    assert stack.job(job_id)["progress"] == 100


def test_abort_a_queued_a_cooperative_and_a_stubborn_running_job(stack: Stack) -> None:
    stack.worker("-c", "2")
    c = stack.client
    # A held job (countdown) aborted before it is due never runs
    held = stack.enqueue("test.record", kwargs={"redis_url": stack.redis_url, "key": "held",
                                                "label": "ran"}, countdown=2)  # fmt: skip
    assert stack.job(held)["status"] == "queued"
    assert stack.job(held)["eta"] is not None
    assert c.delete(f"/api/v1/jobs/{held}").json()["status"] == "aborted"

    # Running jobs: one reports progress (cooperative), one never checks (stopped by the watchdog)
    coop = stack.enqueue("test.sleepy", kwargs={"seconds": 30})
    stub = stack.enqueue("test.stubborn", kwargs={"seconds": 30})
    stack.wait_status(coop, "running")
    stack.wait_status(stub, "running")
    started = time.monotonic()
    assert c.delete(f"/api/v1/jobs/{coop}").json()["status"] == "aborting"
    assert c.delete(f"/api/v1/jobs/{stub}").json()["status"] == "aborting"
    stack.wait_status(coop, "aborted", timeout_s=5)
    stack.wait_status(stub, "aborted", timeout_s=5)
    assert time.monotonic() - started < 5

    # The worker is free again, and the held job did not run at its eta
    quick = stack.enqueue("test.add", kwargs={"a": 1})
    stack.wait_status(quick, "succeeded")
    time.sleep(2.5)
    assert redis.Redis.from_url(stack.redis_url).lrange("held", 0, -1) == []
    assert stack.job(held)["status"] == "aborted"
    assert c.get("/api/v1/jobs", params={"status": "aborted"}).json()["count"] == 3


def test_countdown_and_eta_wait_in_redis_then_run(stack: Stack) -> None:
    worker = stack.worker("-c", "1")
    job_id = stack.enqueue("test.add", kwargs={"a": 1}, countdown=2)
    # Held in Redis, not in the worker: visible as scheduled in the queue view
    queues = stack.client.get("/api/v1/queues").json()["queues"]
    assert next(q for q in queues if q["name"] == "default")["scheduled"] == 1
    # A worker restart meanwhile loses nothing
    worker.stop()
    stack.worker("-c", "1", name="worker2")
    done = stack.wait_status(job_id, "succeeded", timeout_s=30)
    created = time.mktime(time.strptime(done["created_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    started = time.mktime(time.strptime(done["started_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert started - created >= 1  # whole seconds: at least the countdown, rounded down

    eta = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    eta_id = stack.enqueue("test.add", kwargs={"a": 2}, eta=eta)
    assert stack.wait_status(eta_id, "succeeded", timeout_s=30)["result"] == 2
    naive = stack.client.post("/api/v1/jobs", json={"task": "test.add", "kwargs": {"a": 1},
                                                    "eta": "2030-01-01T00:00:00"})  # fmt: skip
    assert naive.status_code == 422
    assert naive.json()["error"]["field"] == "eta"


def test_retries_back_off_with_full_jitter_then_succeed(stack: Stack) -> None:
    stack.worker("-c", "1")
    job_id = stack.enqueue("test.flaky", kwargs={"redis_url": stack.redis_url, "key": "tries"})
    done = stack.wait_status(job_id, "succeeded", timeout_s=30)
    assert done["attempts"] == 3
    assert done["result"] == 3
    logged = redis.Redis.from_url(stack.redis_url, decode_responses=True).lrange("tries", 0, -1)
    starts = [float(str(x).split(":")[1]) for x in logged]
    assert len(starts) == 3
    # backoff_s=1: the n-th retry waits uniformly in [0, 1 * 2**(n-1)] s (whole seconds);
    # allow 1 s for the promoter's poll and the worker's pick-up.
    for n, delay in enumerate((starts[1] - starts[0], starts[2] - starts[1])):
        assert 0 <= delay <= 2**n + 1.0, (n, delay)


def test_a_job_past_its_timeout_fails_clearly(stack: Stack) -> None:
    stack.worker("-c", "1")
    job_id = stack.enqueue("test.slow", kwargs={"seconds": 20})
    failed = stack.wait_status(job_id, "failed", timeout_s=15)
    assert "timed out after 1 s" in failed["error"]
    assert failed["attempts"] == 1  # a timeout is not retried


def test_priorities_reorder_waiting_jobs(stack: Stack) -> None:
    # Given 50 low then 5 high jobs waiting, with no worker yet
    rec = {"redis_url": stack.redis_url, "key": "order"}
    for i in range(50):
        stack.enqueue("test.record", kwargs={**rec, "label": f"low{i}"}, priority=1)
    for i in range(5):
        stack.enqueue("test.record", kwargs={**rec, "label": f"high{i}"}, priority=9)
    # When one worker starts
    stack.worker("-c", "1")
    client = redis.Redis.from_url(stack.redis_url)
    wait_until_len = time.monotonic() + 60
    while client.llen("order") < 55 and time.monotonic() < wait_until_len:
        time.sleep(0.2)
    order = [x.decode() if isinstance(x, bytes) else x for x in client.lrange("order", 0, -1)]
    # Then the 5 high ones ran first
    assert len(order) == 55
    assert sorted(order[:5]) == [f"high{i}" for i in range(5)], order[:10]


def test_mutating_endpoints_refuse_a_missing_or_wrong_token(stack: Stack) -> None:
    base = str(stack.client.base_url)
    anonymous = httpx.Client(base_url=base, timeout=10)
    wrong = httpx.Client(base_url=base, timeout=10, headers={"Authorization": "Bearer nope"})
    calls = [
        ("POST", "/api/v1/jobs", {"task": "test.add", "kwargs": {"a": 1}}),
        ("DELETE", "/api/v1/jobs/x", None),
        ("POST", "/api/v1/events", [{"event_type": "x"}]),
        ("POST", "/api/v1/events/flush", None),
        ("POST", "/api/v1/analytics/run", None),
    ]
    for client in (anonymous, wrong):
        for method, path, body in calls:
            r = client.request(method, path, json=body)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
    # Reads stay open; the right token passes
    assert anonymous.get("/api/v1/queues").status_code == 200
    ok = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert ok.post("/api/v1/jobs", json={"task": "test.add", "kwargs": {"a": 1}}).status_code == 202
