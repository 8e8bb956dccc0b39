"""`tally flower`: Flower on Tally's broker, behind basic auth, showing the workers' jobs."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import free_port, wait_http, wait_until
from tests.queue.conftest import Stack

pytestmark = pytest.mark.slow

PASSWORD = "flower-" + "c0ffee42"


def test_flower_requires_auth_and_shows_workers_and_jobs(stack: Stack) -> None:
    # Given a worker, and Flower started by Tally with basic auth from the settings
    stack.worker("-c", "1", "--name", "flowerbed@test", name="worker")
    port = free_port()
    env = {**stack.env, "TALLY_FLOWER_USER": "ops", "TALLY_FLOWER_PASSWORD": PASSWORD}
    flower = stack.start("flower", "--port", str(port), env=env, name="flower")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthcheck", proc=flower)

    # Then it refuses requests without the password
    assert httpx.get(f"{base}/api/workers", timeout=10).status_code == 401
    assert httpx.get(f"{base}/api/workers", auth=("ops", "wrong"), timeout=10).status_code == 401
    auth = ("ops", PASSWORD)

    # And it sees the worker
    def worker_listed() -> bool:
        r = httpx.get(f"{base}/api/workers", params={"refresh": "1"}, auth=auth, timeout=30)
        return (r.status_code == 200 and "celery@flowerbed@test" in r.text) or "flowerbed" in r.text

    wait_until(worker_listed, 60, "Flower to list the worker")

    # When a job runs, Then Flower shows it from the workers' task events
    job_id = stack.enqueue("test.add", kwargs={"a": 40, "b": 2})
    stack.wait_status(job_id, "succeeded")

    def task_seen() -> bool:
        r = httpx.get(f"{base}/api/task/info/{job_id}", auth=auth, timeout=10)
        return r.status_code == 200 and r.json().get("state") == "SUCCESS"

    wait_until(task_seen, 30, "Flower to show the job")
    info = httpx.get(f"{base}/api/task/info/{job_id}", auth=auth, timeout=10).json()
    assert info["name"] == "test.add"
    assert PASSWORD not in flower.output()


def test_flower_refuses_to_start_without_a_password(stack: Stack) -> None:
    proc = stack.start("flower", "--port", str(free_port()), env=stack.env, name="flower")
    proc.popen.wait(60)
    assert proc.popen.returncode == 1
    assert "TALLY_FLOWER_PASSWORD is empty" in proc.output()
