"""Shared fixtures: real Redis, free loopback ports, processes stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The bearer token every test API accepts (TALLY_API_TOKENS in clean_env).
API_TOKEN = "test-token-0123456789"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_or_skip() -> None:
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if IN_CI:
            pytest.fail(f"Redis is required in CI and is not answering on {REDIS_PORT}")
        pytest.skip("Redis is not running on 127.0.0.1:6379 (required in CI)")


_next_db = iter(range(1, 16))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL on an emptied database of its own."""
    _redis_or_skip()
    db = next(_next_db, None)
    if db is None:  # more tests than databases: start over, flushing as we go
        globals()["_next_db"] = iter(range(2, 16))
        db = 1
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    client.flushdb()
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test's Redis database."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a Tally subprocess, without any Tally or seed variables leaking in."""
    drop = ("REDIS_", "CLICKHOUSE_", "TALLY_", "DATABASE_URL", "TABLE_NAME", "ARQ_", "ANALYTICS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["TALLY_API_TOKENS"] = API_TOKEN
    env.update(extra)
    return env


def api_client(base_url: str, timeout: float = 60, token: str | None = API_TOKEN) -> httpx.Client:
    """An HTTP client for a test API, sending the test bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, timeout=timeout, headers=headers)


class Proc:
    """A Tally subprocess with its log file; stopped by PID."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tally.cli.main", *args],
            env=env,
            cwd=cwd,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self) -> None:
        """SIGKILL: the crash tests' fault."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start Tally processes (`python -m tally.cli.main ...`); all are stopped afterwards."""
    started: list[Proc] = []

    def start(*args: str, env: dict[str, str], name: str = "proc") -> Proc:
        proc = Proc(list(args), env, tmp_path / f"{name}-{len(started)}.log", tmp_path)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


def wait_http(url: str, timeout_s: float = 30.0, proc: Proc | None = None) -> None:
    """Wait until `url` answers (any status)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError(f"process exited early:\n{proc.output()[-3000:]}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `check` until it is true, or fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
