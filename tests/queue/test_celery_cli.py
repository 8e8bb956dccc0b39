"""Celery's own CLI on `tally.celery_app`: operators' inspect/status/events habits keep working."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, wait_http, wait_until
from tests.queue.conftest import Stack

pytestmark = pytest.mark.slow


def celery(stack: Stack, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tally.celery_app", *args],
        env=stack.env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip


def replies(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """`celery inspect ... --json`: one JSON object of node -> reply."""
    assert done.returncode == 0, done.stdout + done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def test_celery_inspect_status_and_events_see_a_tally_worker(stack: Stack) -> None:
    # Given a worker run the documented way
    stack.worker("-Q", "default", "-c", "2", "--name", "tw@test", name="tally-worker")
    wait_until(lambda: "tw@test" in celery(stack, "inspect", "ping").stdout, 60, "ping")

    # When an operator uses Celery's CLI on Tally's app
    registered = replies(celery(stack, "inspect", "registered", "--json"))["tw@test"]
    stats = replies(celery(stack, "inspect", "stats", "--json"))["tw@test"]
    status = celery(stack, "status")

    # Then it sees the worker, its tasks and its pool
    assert {"maintenance.cleanup", "tally.noop", "test.add"} <= set(registered)
    assert stats["pool"]["max-concurrency"] == 2
    assert "password" not in stats["broker"]
    assert "1 node online" in status.stdout

    # And `inspect active` shows a running job; `events --dump` its task events
    events = stack.start("-A", "tally.celery_app", "events", "--dump", env=stack.env,
                         name="events", module="celery")  # fmt: skip
    time.sleep(3)  # the event receiver binds its queue before the job starts
    job_id = stack.enqueue("test.sleepy", kwargs={"seconds": 4})

    def active() -> bool:
        found = replies(celery(stack, "inspect", "active", "--json")).get("tw@test", [])
        return any(task["id"] == job_id for task in found)

    wait_until(active, 30, "the job in inspect active")
    stack.wait_status(job_id, "succeeded", 30)
    wait_until(lambda: f"task succeeded: test.sleepy({job_id})" in events.output(),
               30, "the job's task events")  # fmt: skip
    assert f"task started: test.sleepy({job_id})" in events.output()

    # And a Flower started plainly on Tally's app lists the worker and the job
    port = free_port()
    env = {**stack.env, "FLOWER_BASIC_AUTH": "ops:plain-flower-pw"}
    args = ("-A", "tally.celery_app", "flower", f"--port={port}", "--address=127.0.0.1")
    flower = stack.start(*args, env=env, name="flower", module="celery")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthcheck", proc=flower)
    auth = ("ops", "plain-flower-pw")

    def listed() -> bool:
        r = httpx.get(f"{base}/api/workers", params={"refresh": "1"}, auth=auth, timeout=30)
        return r.status_code == 200 and "tw@test" in r.text

    wait_until(listed, 60, "Flower to list the worker")


def test_a_worker_started_by_celerys_cli_runs_jobs_and_reports_to_tally(stack: Stack) -> None:
    # Given a worker started with Celery's habit, not `tally worker`
    worker = stack.start("-A", "tally.celery_app", "worker", "-Q", "default", "-c", "1",
                         "-P", "threads", "-n", "cw@test", env=stack.env, name="celery-worker",
                         module="celery")  # fmt: skip

    def reported() -> bool:
        seen = stack.client.get("/api/v1/health").json()["workers"]
        return any(w["name"] == "cw@test" and w["queues"] == ["default"] for w in seen)

    # Then Tally's health sees its heartbeat, with its queue and pool
    wait_until(reported, 60, "the celery-started worker's heartbeat")
    seen = next(w for w in stack.client.get("/api/v1/health").json()["workers"]
                if w["name"] == "cw@test")  # fmt: skip
    assert seen["pool"] == "threads"
    # And a job runs on it, recorded in Tally's job index
    job = stack.wait_status(stack.enqueue("test.add", kwargs={"a": 40, "b": 2}), "succeeded", 30)
    assert (job["result"], job["worker"]) == (42, "cw@test")
    worker.stop()
    assert "Traceback" not in worker.output()
