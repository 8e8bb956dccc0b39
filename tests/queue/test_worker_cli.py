"""Burst workers, aborts that outlive a restart, the job CLI, and the start-up auth rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from tests.conftest import clean_env, free_port, wait_until
from tests.conftest import run_tally as tally
from tests.queue.conftest import Stack

pytestmark = pytest.mark.slow


def test_burst_worker_drains_its_queue_and_exits(stack: Stack) -> None:
    ids = [stack.enqueue("test.sleepy", kwargs={"seconds": 0.3, "steps": 3}) for _ in range(5)]
    worker = stack.worker("-Q", "default", "-c", "2", "--burst")
    worker.popen.wait(60)
    assert worker.popen.returncode == 0, worker.output()[-2000:]
    assert all(stack.job(j)["status"] == "succeeded" for j in ids)


def test_seed_002s_arq_max_jobs_and_burst_mode_set_a_plain_worker(stack: Stack) -> None:
    # Given seed 002's variables, and a worker started with no -c and no --burst
    ids = [stack.enqueue("test.sleepy", kwargs={"seconds": 1.5, "steps": 3}) for _ in range(6)]
    env = {**stack.env, "ARQ_MAX_JOBS": "3", "ARQ_BURST_MODE": "true"}
    worker = stack.start("worker", "-Q", "default", "--name", "arq@test", env=env, name="arq")

    # Then it runs 3 jobs at once, and exits once the queue is drained
    def seen() -> list[dict[str, object]]:
        listed = stack.client.get("/api/v1/health").json()["workers"]
        return [w for w in listed if w["name"] == "arq@test"]

    wait_until(lambda: bool(seen()), 30, "the worker's heartbeat")
    assert seen()[0]["concurrency"] == 3
    worker.popen.wait(60)
    assert worker.popen.returncode == 0, worker.output()[-2000:]
    assert all(stack.job(j)["status"] == "succeeded" for j in ids)


def test_ping_worker_finds_this_hosts_heartbeat_and_fails_without_one(
    stack: Stack, tmp_path: Path
) -> None:
    # Given no worker, then the container health check fails, saying why
    alone = tally("ping", "worker", env=stack.env, cwd=tmp_path)
    assert alone.returncode == 1
    assert "no worker of host" in alone.stderr
    # When this host runs a worker, then it passes
    stack.worker("-Q", "default", "-c", "1")
    wait_until(lambda: tally("ping", "worker", env=stack.env, cwd=tmp_path).returncode == 0,
               30, "the worker's heartbeat")  # fmt: skip


def test_an_abort_made_while_no_worker_runs_holds_after_workers_start(stack: Stack) -> None:
    # Given a queued job and no worker; it is aborted
    rec = {"redis_url": stack.redis_url, "key": "ran"}
    doomed = stack.enqueue("test.record", kwargs={**rec, "label": "doomed"})
    assert stack.client.delete(f"/api/v1/jobs/{doomed}").json()["status"] == "aborted"
    after = stack.enqueue("test.record", kwargs={**rec, "label": "after"})
    # When a worker starts and consumes the queue (its message is still there)
    stack.worker("-c", "1")
    stack.wait_status(after, "succeeded")
    # Then the aborted job never ran
    assert redis.Redis.from_url(stack.redis_url).lrange("ran", 0, -1) == [b"after"]
    assert stack.job(doomed)["status"] == "aborted"


def test_job_cli_enqueue_wait_show_list_abort_and_status(stack: Stack, tmp_path: Path) -> None:
    stack.worker("-c", "2")
    env = stack.env
    done = tally("enqueue", "tally.noop", "--arg", "sleep_s=0.5", "--arg", "steps=5", "--wait",
                 env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded" in done.stdout
    assert '"steps": 5' in done.stdout
    job_id = stack.client.get("/api/v1/jobs", params={"task": "tally.noop"}).json()["jobs"][0][
        "job_id"
    ]

    shown = tally("job", job_id, env=env, cwd=tmp_path)
    assert shown.returncode == 0
    assert job_id in shown.stdout
    assert "succeeded" in shown.stdout
    listed = tally("jobs", "--status", "succeeded", env=env, cwd=tmp_path)
    assert listed.returncode == 0
    assert job_id[:8] in listed.stdout

    bad = tally("enqueue", "tally.noop", "--arg", "sleep_s=abc", env=env, cwd=tmp_path)
    assert bad.returncode == 1
    assert "sleep_s" in bad.stderr
    unknown = tally("enqueue", "no.such", env=env, cwd=tmp_path)
    assert unknown.returncode == 1
    assert "unknown task" in unknown.stderr
    held = tally("enqueue", "tally.noop", "--countdown", "60", "--job-id", "cli-held",
                 env=env, cwd=tmp_path)  # fmt: skip
    assert held.returncode == 0
    aborted = tally("abort", "cli-held", env=env, cwd=tmp_path)
    assert aborted.returncode == 0
    assert "aborted" in aborted.stdout
    again = tally("abort", "cli-held", env=env, cwd=tmp_path)
    assert again.returncode == 1
    assert "already finished" in again.stderr

    status = tally("status", env=env, cwd=tmp_path)
    for heading in ("workers", "queues", "schedule", "analytics-daily", "last analytics run"):
        assert heading in status.stdout, status.stdout
    tasks = tally("tasks", env=env, cwd=tmp_path)
    assert "test.flaky" in tasks.stdout


def test_api_refuses_to_start_without_tokens_in_redis_mode(redis_url: str, tmp_path: Path) -> None:
    env = clean_env(REDIS_URL=redis_url, TALLY_DATA_DIR=str(tmp_path), TALLY_API_TOKENS="")
    out = tally("api", "--port", str(free_port()), env=env, cwd=tmp_path, timeout_s=30)
    assert out.returncode == 1
    assert "TALLY_API_TOKENS" in out.stderr


def test_embedded_mode_runs_jobs_in_process_without_tokens(tmp_path: Path) -> None:
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_API_TOKENS="",
                    TALLY_ANALYTICS_ON_STARTUP="false")  # fmt: skip
    out = tally("enqueue", "tally.noop", "--arg", "steps=3", "--wait", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "succeeded" in out.stdout


def test_json_logs_one_structured_line_per_job_event(stack: Stack) -> None:
    # Given a worker logging JSON
    stack.env["TALLY_LOG_FORMAT"] = "json"
    worker = stack.worker("-c", "1", name="json")
    # When one job succeeds and one fails
    ok = stack.enqueue("test.add", kwargs={"a": 2})
    bad = stack.enqueue("test.slow", kwargs={"seconds": 3})
    stack.wait_status(ok, "succeeded")
    stack.wait_status(bad, "failed")
    worker.stop()
    # Then every log line is a JSON object (Celery prints its shutdown notice itself, on
    # stdout), and each job event is one of them
    lines = [line for line in worker.output().splitlines() if line.strip()]
    assert [line for line in lines if not line.startswith("{")] == [
        "worker: Warm shutdown (MainProcess)"
    ]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    events = {(r.get("event"), r.get("job_id")): r for r in records}
    started, finished = events[("job_started", ok)], events[("job_finished", ok)]
    assert started["task"] == "test.add"
    assert started["queue"] == "default"
    assert started["attempt"] == 1
    assert finished["duration_s"] >= 0
    failed = events[("job_failed", bad)]
    assert failed["level"] == "warning"
    assert "timed out" in failed["error"]
    assert any(r.get("event") == "start" and r.get("mode") == "redis" for r in records)
