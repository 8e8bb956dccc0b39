"""A stack of real processes on a private AOF redis-server, for tests that inject faults.

Each test gets its own `redis-server` (appendfsync always, own data directory, free port):
killing or restarting it leaves the machine's shared Redis alone. Outcomes are printed and
appended to build/chaos-report.jsonl, the source of docs/reliability.md's figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tally import keys
from tests.conftest import (
    Proc,
    RedisServer,
    api_client,
    clean_env,
    free_port,
    wait_http,
    wait_until,
)
from tests.http_jobs import enqueue, enqueue_when_up, get_job

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "build" / "chaos-report.jsonl"


@dataclass
class Chaos:
    """The processes of one chaos test, its private Redis and a client for its API."""

    redis: RedisServer
    env: dict[str, str]
    start: Callable[..., Proc]
    client: httpx.Client = field(init=False)
    api_proc: Proc = field(init=False)

    def api(self) -> None:
        """Start the API on a free port and wait until it answers."""
        port = free_port()
        self.api_proc = self.start("api", "--port", str(port), env=self.env, name="api")
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/v1/health", proc=self.api_proc)
        self.client = api_client(base, timeout=60)

    def worker(self, *args: str, name: str = "worker", **env: str) -> Proc:
        """Start a `tally worker` (extra settings in `env`)."""
        return self.start("worker", *args, "--name", name, env={**self.env, **env}, name=name)

    def wait_worker_ready(self, name: str, timeout_s: float = 60) -> None:
        """Wait until the worker `name` sends heartbeats."""
        r = self.redis.client()
        try:
            key = keys.worker_heartbeat(name)
            wait_until(lambda: bool(r.exists(key)), timeout_s, f"worker {name} to beat")
        finally:
            r.close()

    def enqueue(self, task: str, **body: Any) -> str:
        return enqueue(self.client, task, **body)

    def job(self, job_id: str) -> dict[str, Any]:
        return get_job(self.client, job_id)

    def redis_outage(self, down_s: float) -> float:
        """SIGKILL Redis, wait `down_s`, start it again on its AOF; return when (monotonic)."""
        self.redis.kill()
        time.sleep(down_s)
        self.redis.start()
        return time.monotonic()

    def new_job_succeeds(self, timeout_s: float = 30) -> None:
        """Enqueue a job as soon as the API accepts one; wait until it succeeded."""
        job_id = enqueue_when_up(self.client, "test.add", kwargs={"a": 1})
        self.wait_job(job_id, lambda j: j["status"] == "succeeded", timeout_s, "a new job")

    def wait_job(
        self, job_id: str, check: Callable[[dict[str, Any]], bool], timeout_s: float, what: str
    ) -> dict[str, Any]:
        """Poll the job until `check(job)` holds; return it."""
        wait_until(lambda: check(self.job(job_id)), timeout_s, f"job {job_id}: {what}")
        return self.job(job_id)


@pytest.fixture
def chaos(
    private_redis: RedisServer, tmp_path: Path, procs: Callable[..., Proc]
) -> Iterator[Chaos]:
    """Settings for a fast-recovering stack on the test's private Redis; no process yet."""
    env = clean_env(
        REDIS_URL=private_redis.url(),
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_TASK_MODULES="tests.queue.user_tasks",
        PYTHONPATH=str(ROOT),
        TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_FLUSH_INTERVAL_S="3600",
        TALLY_REDIS_TIMEOUT_S="0.5",
        TALLY_HEARTBEAT_S="1",
        TALLY_SCHEDULER_POLL_S="0.1",
        TALLY_ABORT_CHECK_S="0.1",
    )
    stack = Chaos(private_redis, env, procs)
    yield stack
    if hasattr(stack, "client"):
        stack.client.close()


def report(test: str, **figures: Any) -> None:
    """Print a test's measured outcome and append it to build/chaos-report.jsonl."""
    line = json.dumps({"test": test, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ"), **figures})
    print(f"\nCHAOS {line}")
    REPORT.parent.mkdir(exist_ok=True)
    with REPORT.open("a") as out:
        out.write(line + "\n")


def broker_unacked(client: redis.Redis) -> int:
    """Messages Celery's Redis transport delivered and holds unacknowledged."""
    return int(client.hlen(keys.BROKER_UNACKED))
