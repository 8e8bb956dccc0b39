"""Redis over TLS with AUTH from the URL, and no secret in any process's log or answer."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import (
    Proc,
    RedisServer,
    api_client,
    clean_env,
    free_port,
    wait_http,
    wait_until,
)
from tests.http_events import flush_until_empty, make_events, post_all, stored

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Distinctive values, so a grep finds them wherever they leak.
REDIS_PASSWORD = "redis-pw-" + "5d1c0ffee"
TOKEN = "api-token-" + "a81b9e2f7c"
WRONG_TOKEN = "wrong-token-" + "3f9d0c4a"
SALT = "ip-salt-" + "e7a2b64d"
CLICKHOUSE_PASSWORD = "ch-pw-" + "9b3e71aa"


def test_tls_and_auth_through_the_url_and_no_secret_shown_anywhere(
    tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given a redis-server that speaks only TLS and requires a password
    server = RedisServer(tmp_path / "redis", "--requirepass", REDIS_PASSWORD, aof=False)
    server.use_tls()
    server.start()
    assert server.url().startswith(f"rediss://:{REDIS_PASSWORD}@")
    try:
        # When API, worker and beat get it, and every secret, from their environment
        env = clean_env(
            REDIS_URL=server.url(),
            TALLY_API_TOKENS=TOKEN,
            TALLY_IP_ANONYMIZATION="hash",
            TALLY_IP_HASH_SALT=SALT,
            CLICKHOUSE_PASSWORD=CLICKHOUSE_PASSWORD,
            TALLY_DATA_DIR=str(tmp_path / "data"),
            TALLY_TASK_MODULES="tests.queue.user_tasks",
            PYTHONPATH=str(ROOT),
            TALLY_ANALYTICS_ON_STARTUP="false",
            TALLY_MAX_BODY_BYTES="200000",
        )
        port = free_port()
        started = [
            procs("api", "--port", str(port), env=env, name="api"),
            procs("worker", "-c", "2", env=env, name="worker"),
            procs("beat", env=env, name="beat"),
        ]
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/v1/health", proc=started[0])
        answers: list[str] = []
        with api_client(base, token=TOKEN) as client:
            wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "health")
            # Then everything works over TLS
            assert post_all(client, make_events(500), batch=100) == 500
            flush_until_empty(client)
            assert stored(client) == 500
            job = client.post("/api/v1/jobs", json={"task": "test.add", "kwargs": {"a": 2}})
            assert job.status_code == 202, job.text
            job_url = job.json()["status_url"]
            wait_until(lambda: client.get(job_url).json()["status"] == "succeeded", 30, "job")
            # A body past TALLY_MAX_BODY_BYTES is refused whole: 413 naming the body
            before = client.get("/api/v1/events/buffer").json()["events"]
            big = client.post("/api/v1/events", json=make_events(2_000))
            assert big.status_code == 413, big.text
            assert big.json()["error"]["field"] == "body"
            assert client.get("/api/v1/events/buffer").json()["events"] == before
            answers += [client.get("/api/v1/health").text, client.get("/metrics").text]
            answers.append(client.get("/api/v1/queues").text)
        with api_client(base, token=WRONG_TOKEN) as wrong:
            refused = wrong.post("/api/v1/events", json=make_events(1))
            assert refused.status_code == 401
            answers.append(refused.text)
        status = subprocess.run(
            [sys.executable, "-m", "tally.cli.main", "status"],
            env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        answers += [status.stdout, status.stderr]
        for proc in started:
            proc.stop()
    finally:
        server.kill()

    # And no secret appears in any process's log, any answer, or `tally status`
    texts = {p.log.name: p.output() for p in started} | {
        f"answer{i}": a for i, a in enumerate(answers)
    }
    for secret in (REDIS_PASSWORD, TOKEN, WRONG_TOKEN, SALT, CLICKHOUSE_PASSWORD):
        leaks = [name for name, text in texts.items() if secret in text]
        assert leaks == [], f"{secret[:8]}… appears in {leaks}"
    assert "rediss://" in texts[started[0].log.name]  # the banner names the URL, redacted
    assert "job started" in texts[started[1].log.name]  # the logs were captured at all
