"""A Redis-mode stack for the job tests: API and workers as real processes, user tasks loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Proc, api_client, clean_env, free_port, wait_http, wait_until
from tests.http_jobs import enqueue, get_job

ROOT = Path(__file__).resolve().parents[2]
USER_TASKS = "tests.queue.user_tasks"


@dataclass
class Stack:
    """The processes of one test and a client for its API."""

    redis_url: str
    env: dict[str, str]
    client: httpx.Client
    start: Callable[..., Proc]

    def worker(self, *args: str, name: str = "worker") -> Proc:
        """Start a `tally worker` with these extra arguments."""
        return self.start("worker", *args, env=self.env, name=name)

    def enqueue(self, task: str, **body: Any) -> str:
        """POST a job; return its id."""
        return enqueue(self.client, task, **body)

    def job(self, job_id: str) -> dict[str, Any]:
        return get_job(self.client, job_id)

    def wait_status(self, job_id: str, status: str, timeout_s: float = 30) -> dict[str, Any]:
        """Wait until the job has `status`; return it."""
        wait_until(lambda: self.job(job_id)["status"] == status, timeout_s, f"{job_id} {status}")
        return self.job(job_id)


@pytest.fixture
def stack(redis_url: str, tmp_path: Path, procs: Callable[..., Proc]) -> Iterator[Stack]:
    """An API on a free port (no worker yet), with the test user tasks registered."""
    env = clean_env(
        REDIS_URL=redis_url,
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_TASK_MODULES=USER_TASKS,
        TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_FLUSH_INTERVAL_S="3600",
        TALLY_SCHEDULER_POLL_S="0.1",
        TALLY_ABORT_CHECK_S="0.1",
        PYTHONPATH=str(ROOT),
    )
    port = free_port()
    api = procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    with api_client(base, timeout=30) as client:
        yield Stack(redis_url, env, client, procs)
