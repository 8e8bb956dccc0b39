"""A new user's first hour: what the README's examples and a first try hit, on real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    API_TOKEN,
    Proc,
    RedisServer,
    api_client,
    clean_env,
    free_port,
    wait_http,
    wait_until,
)
from tests.conftest import (
    run_tally as tally,
)
from tests.http_events import make_events

ROOT = Path(__file__).resolve().parents[2]


def _dev(tmp_path: Path, procs: Callable[..., Proc], **extra: str) -> tuple[Proc, str]:
    port = free_port()
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), **extra)
    proc = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", timeout_s=60, proc=proc)
    return proc, base


def test_curl_bodies_links_and_reads_as_a_new_user_meets_them(
    tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    proc, base = _dev(tmp_path, procs, TALLY_ANALYTICS_ON_STARTUP="false")
    # `curl -d` declares application/x-www-form-urlencoded: the JSON is read all the same
    form = {"content-type": "application/x-www-form-urlencoded"}
    with api_client(base) as client:
        job = client.post("/api/v1/jobs", content=b'{"task": "tally.noop"}', headers=form)
        assert job.status_code == 202, job.text
        assert job.json()["status_url"] == f"/api/v1/jobs/{job.json()['job_id']}"
        # Malformed JSON: the same clear answer /api/v1/events gives
        bad = client.post("/api/v1/jobs", content=b'{"task": "tally.noop",}', headers=form)
        assert bad.status_code == 422
        assert bad.json()["error"]["reason"] == "invalid_json"
        assert bad.json()["error"]["field"] == "body"
        not_json = client.post("/api/v1/analytics/run", content=b"as_of=now", headers=form)
        assert (not_json.status_code, not_json.json()["error"]["reason"]) == (422, "invalid_json")
        # Every enqueue answers 202 with where to follow it
        run = client.post("/api/v1/analytics/run", content=b"{}", headers=form)
        assert run.status_code == 202, run.text
        assert "status_url" in run.json()
        flush = client.post("/api/v1/events/flush")
        assert flush.status_code == 202, flush.text
        assert flush.json()["status_url"].startswith("/api/v1/jobs/")

        # Job arguments and results need a token to read
        with httpx.Client(base_url=base, timeout=30) as anonymous:
            assert anonymous.get("/api/v1/jobs").status_code == 401
            assert anonymous.get(f"/api/v1/jobs/{job.json()['job_id']}").status_code == 401
        assert client.get("/api/v1/jobs").status_code == 200

        # Groups are matched the way ingest normalises them: fr is FR
        events = [{**e, "country": "fr"} for e in make_events(50)]
        assert client.post("/api/v1/events", json=events).status_code == 200
        assert client.post("/api/v1/events/flush", params={"wait": True}).status_code == 200
        live = client.post("/api/v1/analytics/run", json={"wait": True})
        assert live.status_code == 200, live.text
        fr = client.get("/api/v1/analytics/popularity", params={"group": "fr"})
        assert fr.status_code == 200, fr.text
        assert list(fr.json()["groups"]) == ["FR"]
        cli_env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"))
        shown = tally("analytics", "show", "popularity", "--group", "fr", env=cli_env, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "FR" in shown.stdout

        # A backfill does not replace the live results seed 000's readers see
        past = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
        backfill = client.post("/api/v1/analytics/run", json={"wait": True, "as_of": past})
        assert backfill.status_code == 200, backfill.text
        assert backfill.json()["published"] == "backfill"
        meta = client.get("/api/v1/analytics/metadata").json()
        assert meta["as_of"] == live.json()["as_of"]
        kept = client.get("/api/v1/analytics/popularity", params={"as_of": past}).json()
        assert kept["as_of"] == backfill.json()["as_of"]
        published = client.post(
            "/api/v1/analytics/run", json={"wait": True, "as_of": past, "publish": True}
        )
        assert published.json()["published"] == "live"
        assert client.get("/api/v1/analytics/metadata").json()["as_of"] == kept["as_of"]
    # The CLI works beside the running `tally dev` (which owns the store): it asks its API
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"))
    for args, expected in (
        (["tasks"], "analytics.run"),
        (["status"], "workers"),
        (["jobs", "--task", "tally.noop"], job.json()["job_id"]),
        (["analytics", "metadata"], "as_of"),
        (["store", "stats"], "events"),
    ):
        done = tally(*args, env=env, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert expected in done.stdout, (args, done.stdout)
        assert "Traceback" not in done.stderr
        assert "{'" not in done.stdout  # values, not Python dicts
    out = proc.output()
    assert f"Dashboard: {base}/" in out
    assert out.count("EMBEDDED MODE") == 1  # said once, by the banner
    assert "No hostname was supplied" not in out


def test_bad_input_is_one_clear_line_never_a_traceback(tmp_path: Path) -> None:
    base = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_ANALYTICS_ON_STARTUP="false")
    cases = {
        "REDIS_URL": (["status"], {"REDIS_URL": "http://127.0.0.1:6379/0"}, "redis://"),
        "TALLY_BREAKERS": (["status"], {"TALLY_BREAKERS": "{not json"}, "TALLY_BREAKERS"),
        "as_of": (["enqueue", "analytics.run", "--arg", "as_of=yesterday"], {}, "as_of"),
        "unknown task": (["enqueue", "no.such.task"], {}, "tally tasks"),
    }
    for name, (args, extra, expected) in cases.items():
        out = tally(*args, env=base | extra, cwd=tmp_path)
        assert out.returncode == 1, (name, out.stdout, out.stderr)
        assert expected in out.stderr, (name, out.stderr)
        assert "Traceback" not in out.stderr + out.stdout, name
        assert len([line for line in out.stderr.splitlines() if line.strip()]) <= 4, out.stderr


@pytest.mark.slow
def test_health_says_degraded_when_scheduled_work_has_no_consumer(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    env = clean_env(
        REDIS_URL=redis_url, TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_HEARTBEAT_S="1"
    )
    port = free_port()
    procs("worker", "-Q", "events,default", "-c", "2", env=env, name="worker")
    procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health")
    with api_client(base) as client:

        def degraded_for_analytics() -> bool:
            body = client.get("/api/v1/health").json()
            return any("queue analytics has scheduled work" in p for p in body["problems"])

        wait_until(degraded_for_analytics, 60, "health to name the unconsumed analytics queue")
        assert client.get("/api/v1/health").status_code == 503


@pytest.mark.slow
def test_a_buffer_past_the_batch_size_is_flushed_within_seconds(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given a worker, a batch size of 500 and no scheduled flush for an hour
    env = clean_env(
        REDIS_URL=redis_url,
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_BATCH_SIZE="500",
        TALLY_FLUSH_INTERVAL_S="3600",
        TALLY_ANALYTICS_ON_STARTUP="false",
    )
    port = free_port()
    procs("worker", "-c", "2", env=env, name="worker")
    procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health")
    with api_client(base) as client:
        wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "a worker")
        # When batches past the size arrive back to back, while the first flush runs
        for _ in range(6):
            assert client.post("/api/v1/events", json=make_events(600)).status_code == 200
        started = time.monotonic()
        # Then every one of them is stored within seconds, not at the next scheduled flush
        wait_until(
            lambda: client.get("/api/v1/events/buffer").json()["events"] == 0,
            20,
            "the size trigger to drain the buffer",
        )
        assert time.monotonic() - started < 20
        stats = client.get("/api/v1/store/stats", params={"timeout_s": 30}).json()
        assert stats["events"] == 3600
    assert API_TOKEN  # the stack ran with the test token


@pytest.mark.slow
def test_a_redis_outage_costs_a_handful_of_log_lines(
    private_redis: RedisServer, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given an API and a worker on a private Redis, both up and quiet
    env = clean_env(
        REDIS_URL=private_redis.url(),
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_REDIS_TIMEOUT_S="0.5",
        TALLY_HEARTBEAT_S="1",
    )
    port = free_port()
    worker = procs("worker", "-c", "2", env=env, name="worker")
    api = procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    with api_client(base, timeout=10) as client:
        wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "a worker")
        time.sleep(2)
        before = {p: len(p.output().splitlines()) for p in (api, worker)}
        # When Redis is down for 20 s while clients keep calling
        private_redis.kill()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            client.get("/api/v1/health")
            client.post("/api/v1/events", json=make_events(5))
            time.sleep(0.5)
        private_redis.start()
        wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "recovery")
    # Then each process said so in a handful of lines, not one per second
    for proc, name in ((api, "api"), (worker, "worker")):
        added = proc.output().splitlines()[before[proc] :]
        print(
            f"\nLOG {name}: {len(added)} lines, {sum('Traceback' in x for x in added)} tracebacks"
        )
        assert len(added) <= 15, "\n".join(added)
        assert sum("Traceback" in line for line in added) <= 1, "\n".join(added)


def test_the_sdk_says_where_it_writes_and_exits_cleanly(tmp_path: Path) -> None:
    code = (
        "import tally\n"
        "print(tally.track_event('video_view', entity_type='video', entity_id='v1'))\n"
        "print(tally.get_queue_size())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean_env(), cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1] == "1"
    assert f"embedded store in {tmp_path.resolve() / '.tally' / 'chdb'}" in out.stderr
    assert "Exception" not in out.stderr
    assert "Traceback" not in out.stderr


def test_openapi_types_the_event_and_every_answer(
    tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    _, base = _dev(tmp_path, procs, TALLY_ANALYTICS_ON_STARTUP="false")
    doc = httpx.get(f"{base}/openapi.json", timeout=30).json()
    event = doc["components"]["schemas"]["Event"]
    assert {"event_type", "entity_id", "country", "created_at"} <= set(event["properties"])
    body = doc["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]
    assert "Event" in str(body["application/json"]["schema"])

    def ok_schema(path: str, method: str = "get", code: str = "200") -> str:
        return str(doc["paths"][path][method]["responses"][code]["content"]["application/json"])

    assert "JobView" in ok_schema("/api/v1/jobs/{job_id}")
    assert "JobsPage" in ok_schema("/api/v1/jobs")
    assert "Enqueued" in ok_schema("/api/v1/jobs", "post", "202")
    assert "QueuesPage" in ok_schema("/api/v1/queues")
    assert "HealthView" in ok_schema("/api/v1/health")
    assert "AnalyticsResults" in ok_schema("/api/v1/analytics/popularity")
    assert "BufferView" in ok_schema("/api/v1/events/buffer")


def test_tally_status_says_what_is_down_in_one_line_each(tmp_path: Path) -> None:
    env = clean_env(
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        DATABASE_URL=f"postgresql://u:pw-9a1b@127.0.0.1:{free_port()}/x",
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_REDIS_TIMEOUT_S="0.5",
    )
    out = tally("status", env=env, cwd=tmp_path)
    assert out.returncode == 1
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    assert "redis unreachable" in text
    assert "metadata database unreachable" in text
    assert "pw-9a1b" not in text


def test_the_demo_then_tally_dev_shows_the_demos_data(
    tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"))
    demo = tally("demo", "--events", "3000", "--batch", "1000", env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "tally dev" in demo.stdout  # it says how to open its data
    _, base = _dev(tmp_path, procs)
    with api_client(base) as client:
        stats = client.get("/api/v1/store/stats", params={"timeout_s": 30}).json()
        assert stats["events"] == 3000
        wait_until(  # tally dev runs the analytics at start, over the demo's events
            lambda: client.get("/api/v1/analytics/metadata").status_code == 200, 60, "a run"
        )
        assert client.get("/api/v1/analytics/metadata").json()["events_scanned"] > 0
