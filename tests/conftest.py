"""Shared fixtures: real Redis, free loopback ports, processes stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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

# Marked by where they live (a `pytestmark` in a conftest.py marks nothing): `-m "not slow"`
# (`make check`) leaves out every chaos, browser and load test.
_KINDS = {"chaos": ("tests/chaos/",), "browser": ("tests/dashboard/test_browser.py",)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark chaos and browser tests with their kind and `slow`."""
    for item in items:
        where = item.nodeid
        for kind, prefixes in _KINDS.items():
            if where.startswith(prefixes):
                item.add_marker(kind)
                item.add_marker("slow")


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


def run_tally(
    *args: str, env: dict[str, str], cwd: Path, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one `tally` command to its end (wide terminal, output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "tally.cli.main", *args],
        env=env | {"COLUMNS": "200"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def api_client(base_url: str, timeout: float = 60, token: str | None = API_TOKEN) -> httpx.Client:
    """An HTTP client for a test API, sending the test bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, timeout=timeout, headers=headers)


class Proc:
    """A Tally subprocess with its log file; stopped by PID."""

    def __init__(
        self, args: list[str], env: dict[str, str], log: Path, cwd: Path,
        module: str = "tally.cli.main",
    ) -> None:  # fmt: skip
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
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

    def start(
        *args: str, env: dict[str, str], name: str = "proc", module: str = "tally.cli.main"
    ) -> Proc:
        proc = Proc(list(args), env, tmp_path / f"{name}-{len(started)}.log", tmp_path, module)
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


def redis_server_or_skip() -> None:
    """Chaos and auth tests start their own redis-server: required in CI, skipped elsewhere."""
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is not installed, and CI must run this test")
        pytest.skip("redis-server binary not installed")


class RedisServer:
    """A private redis-server on a free loopback port, with its own data directory.

    With `aof=True` every write is fsynced to the append-only file before Redis answers, so
    a SIGKILL loses nothing Redis acknowledged, and `restart()` comes back with it all.
    """

    def __init__(self, data_dir: Path, *extra: str, aof: bool = True) -> None:
        redis_server_or_skip()
        self.port = free_port()
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if aof else []
        self._args = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            *(persistence or ["--appendonly", "no"]), "--dir", str(data_dir), *extra,
        ]  # fmt: skip
        self.popen: subprocess.Popen[bytes] | None = None
        self.tls_ca: Path | None = None
        flags = dict(zip(extra[::2], extra[1::2], strict=False))
        self.password = flags.get("--requirepass")

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls_ca is not None:
            query = f"ssl_cert_reqs=required&ssl_ca_certs={self.tls_ca}"
            return f"rediss://{auth}127.0.0.1:{self.port}/{db}?{query}"
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url(), socket_timeout=5)

    def use_tls(self) -> None:
        """Serve TLS only, with a certificate signed by a CA made for this server."""
        ca, cert, key = (self.data_dir / n for n in ("ca.pem", "server.pem", "server.key"))
        ca_key, csr = self.data_dir / "ca.key", self.data_dir / "server.csr"
        for cmd in (
            f"req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=tally-test-ca "
            f"-keyout {ca_key} -out {ca}",
            f"req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout {key} -out {csr}",
            f"x509 -req -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -days 1 "
            f"-extfile /dev/stdin -out {cert}",
        ):
            subprocess.run(
                ["openssl", *cmd.split()],
                input=b"subjectAltName=IP:127.0.0.1\n",
                check=True,
                capture_output=True,
            )
        port = self._args.index("--port") + 1
        self._args[port] = "0"  # no plain-text port at all
        self._args += ["--tls-port", str(self.port), "--tls-cert-file", str(cert),
                       "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
                       "--tls-auth-clients", "no"]  # fmt: skip
        self.tls_ca = ca

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        log = open(self.data_dir / "redis.log", "ab")  # noqa: SIM115 - owned by the process
        self.popen = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def answers() -> bool:
            try:
                with self.client() as c:
                    return bool(c.ping())
            except redis.RedisError:
                return False

        wait_until(answers, 15, f"redis-server on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no goodbye to clients."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private AOF redis-server for this test (the machine's Redis is left alone)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of its own on the machine's server, dropped afterwards."""
    import uuid

    import psycopg

    name = f"tally_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and is not answering: {exc}")
        pytest.skip(f"PostgreSQL is not answering on 127.0.0.1:5432 ({exc})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A live ClickHouse server (chDB's clickhouse-local) for the whole session."""
    from tests.clickhouse_server import ClickHouseServer

    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"), free_port(), free_port())
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"the ClickHouse server fixture did not start: {exc}")
    yield server
    server.stop()
