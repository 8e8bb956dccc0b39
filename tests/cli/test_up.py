"""`tally up` on Redis mode with a ClickHouse server: every process, supervised, stopped by PID."""

from __future__ import annotations

import os
import re
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tally import keys
from tests.conftest import api_client, clean_env, free_port, run_tally, wait_http, wait_until

pytestmark = pytest.mark.slow


def listed(output: str) -> dict[str, tuple[str, int | None]]:
    """`tally up --status`'s table as {process: (state, pid)}."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if len(cells) >= 3 and cells[1] in ("running", "starting", "backoff", "fatal", "exited"):
            rows[cells[0]] = (cells[1], int(cells[2]) if cells[2].isdigit() else None)
    return rows


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][:1] != "Z"


def test_up_runs_every_process_restarts_a_killed_one_and_down_stops_all(
    redis_url: str, clickhouse_server: Any, tmp_path: Path
) -> None:
    # Given seed 001's variables for a Redis + ClickHouse deployment
    api_port, flower_port, metrics_port = free_port(), free_port(), free_port()
    data = tmp_path / "d"
    env = clean_env(
        REDIS_URL=redis_url, CLICKHOUSE_URL=clickhouse_server.url,
        CLICKHOUSE_DATABASE=f"up_{uuid.uuid4().hex[:8]}", TALLY_DATA_DIR=str(data),
        TALLY_API_PORT=str(api_port), TALLY_FLOWER_PASSWORD="flower-secret",
        FLOWER_PORT=str(flower_port), PROMETHEUS_PORT=str(metrics_port),
        WORKER_CONCURRENCY_ALERTS="3", TALLY_ANALYTICS_ON_STARTUP="false",
    )  # fmt: skip
    expected = {"api", *(f"worker-{q}" for q in keys.QUEUES), "beat", "flower", "metrics"}
    pidfile = data / "up" / "supervisord.pid"
    try:
        # When `tally up` runs
        started = run_tally("up", env=env, cwd=tmp_path, timeout_s=180)
        assert started.returncode == 0, started.stdout + started.stderr
        first = listed(started.stdout)
        # Then every process runs: the API, a worker per queue, beat, Flower and metrics
        assert set(first) == expected, started.stdout
        assert all(state == "running" for state, _ in first.values())
        base = f"http://127.0.0.1:{api_port}"
        wait_http(f"{base}/api/v1/health")
        client = api_client(base)

        def consumed() -> bool:
            listing = client.get("/api/v1/queues").json()["queues"]
            queues = {q["name"]: q["workers"] for q in listing}
            return all(queues.get(q) for q in keys.QUEUES)

        wait_until(consumed, 60, "a worker consuming every queue")
        assert client.get("/api/v1/health").json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{flower_port}/").status_code == 401
        assert httpx.get(f"http://127.0.0.1:{flower_port}/",
                         auth=("tally", "flower-secret")).status_code == 200  # fmt: skip
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert "tally_queue_depth" in scrape

        # When a worker is killed, then it is started again under a new PID
        _, killed_pid = first["worker-alerts"]
        assert killed_pid is not None
        os.kill(killed_pid, signal.SIGKILL)

        def restarted() -> bool:
            out = run_tally("up", "--status", env=env, cwd=tmp_path).stdout
            state, pid = listed(out).get("worker-alerts", ("", None))
            return state == "running" and pid not in (None, killed_pid)

        wait_until(restarted, 60, "the killed worker restarted")
        status = run_tally("up", "--status", env=env, cwd=tmp_path)
        assert status.returncode == 0
        now = listed(status.stdout)
        assert set(now) == expected
        assert {n: p for n, (_, p) in now.items() if n != "worker-alerts"} == {
            n: p for n, (_, p) in first.items() if n != "worker-alerts"
        }
        # A second `tally up` starts nothing new
        again = run_tally("up", env=env, cwd=tmp_path)
        assert "already up" in again.stderr
        client.close()

        # When `tally down` runs, then every PID it listed is gone, supervisord too
        daemon = int(pidfile.read_text())
        pids = [p for _, p in now.values() if p]
        stopped = run_tally("down", env=env, cwd=tmp_path, timeout_s=120)
        assert stopped.returncode == 0, stopped.stderr
        assert f"stopped {len(expected)} processes" in stopped.stderr
        assert not [pid for pid in [daemon, *pids] if alive(pid)]
        gone = run_tally("up", "--status", env=env, cwd=tmp_path)
        assert gone.returncode == 1
        assert "not running" in gone.stderr
        assert "Traceback" not in gone.stderr + stopped.stderr
    finally:
        if pidfile.exists():  # a failed assertion above: stop what the test started
            run_tally("down", "--timeout", "20", env=env, cwd=tmp_path)
