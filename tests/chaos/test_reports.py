"""One run per scheduled slot: two beats, two workers, and a worker killed mid-render.

Redis mode with a live ClickHouse server (any worker may render) and PostgreSQL. An
every-minute report runs for three slots. The first worker alone takes the first slot and
SIGKILLs itself after writing its temporary file and before renaming it; two workers then
take over. Counted afterwards: three runs (one per slot), three files delivered once each,
the killed slot rendered twice and finished once, and no temporary file left.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tally.reports import files
from tests.conftest import (
    Proc,
    api_client,
    clean_env,
    free_port,
    run_tally,
    wait_http,
    wait_until,
)

SLOTS = 3


def views(n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [{"event_type": "video_view", "entity_type": "video", "entity_id": f"v{i % 5}",
             "country": "FR", "created_at": now} for i in range(n)]  # fmt: skip


def test_each_slot_runs_once_across_two_beats_two_workers_and_a_kill(
    redis_url: str,
    postgres_url: str,
    clickhouse_server: Any,
    tmp_path: Path,
    procs: Callable[..., Proc],
) -> None:
    reports_dir = tmp_path / "reports"
    env = clean_env(
        REDIS_URL=redis_url, DATABASE_URL=postgres_url, CLICKHOUSE_URL=clickhouse_server.url,
        CLICKHOUSE_DATABASE=f"reports_{uuid.uuid4().hex[:8]}", TALLY_DATA_DIR=str(tmp_path / "d"),
        TALLY_REPORTS_DIR=str(reports_dir), TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_REPORTS_TICK_S="1", TALLY_REPORTS_RUN_LEASE_S="4",
        TALLY_BEAT_LOCK_TTL_S="2", TALLY_HEARTBEAT_S="1",
    )  # fmt: skip
    upgraded = run_tally("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    port = free_port()
    api = procs("api", "--port", str(port), env=env, name="api")
    procs("beat", env=env, name="beat-a")
    procs("beat", env=env, name="beat-b")
    dying = {**env, "TALLY_FAILPOINTS": "reports.before_commit"}
    crashing = procs("worker", "-c", "2", env=dying, name="crashing")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    client = api_client(base)
    wait_until(lambda: client.get("/api/v1/health").status_code == 200, 60, "a healthy worker")

    # Given stored events and a report every minute, delivered to a folder
    assert client.post("/api/v1/events", json=views(50)).json()["accepted"] == 50
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 30})
    report = {"name": "minutely", "format": "csv", "schedule": {"cron": "* * * * *"},
              "source": {"kind": "events", "dimension": "country", "days": 1},
              "deliveries": [{"kind": "directory", "path": "minutely"}]}  # fmt: skip
    created = client.post("/api/v1/reports", json=report)
    assert created.status_code == 201, created.text
    first_slot = created.json()["next_run_at"]

    # When the first slot comes, its only worker dies mid-render (its file not yet renamed)
    wait_until(lambda: crashing.popen.poll() is not None, 90, "the worker to kill itself")
    assert crashing.popen.returncode == -9
    leftovers = list((reports_dir / files.TEMP_DIR).glob("*.part"))
    assert len(leftovers) == 1
    assert not (reports_dir / "minutely").exists()
    # And two workers take over, for this slot and the next two
    procs("worker", "-c", "2", env=env, name="worker-a")
    procs("worker", "-c", "2", env=env, name="worker-b")

    def all_done() -> bool:
        runs = client.get("/api/v1/reports/runs", params={"report": "minutely"}).json()
        finished = [r for r in runs if r["status"] == "done"]
        return len(finished) >= SLOTS

    wait_until(all_done, 60 * SLOTS + 60, f"{SLOTS} slots to be run and delivered")

    # Then one run per slot, a minute apart; the killed slot rendered twice, finished once
    runs = sorted(client.get("/api/v1/reports/runs", params={"report": "minutely"}).json()[:SLOTS],
                  key=lambda r: r["slot"])  # fmt: skip
    slots = [r["slot"] for r in runs]
    assert slots[0] == first_slot
    assert [b - a for a, b in itertools.pairwise(slots)] == [60.0] * (SLOTS - 1)
    all_runs = client.get("/api/v1/reports/runs", params={"report": "minutely"}).json()
    assert len({r["slot"] for r in all_runs}) == len(all_runs)  # never two runs of one slot
    assert [r["status"] for r in runs] == ["done"] * SLOTS
    assert runs[0]["attempts"] == 2
    assert [r["attempts"] for r in runs[1:]] == [1] * (SLOTS - 1)
    # And each file was delivered once, complete; nothing temporary is left
    deliveries = [d for r in runs for d in r["deliveries"]]
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 1)] * SLOTS
    delivered = sorted(p.name for p in (reports_dir / "minutely").iterdir())
    assert delivered == sorted(r["filename"] for r in runs)
    for r in runs:
        body = client.get(f"/api/v1/reports/runs/{r['id']}/file").content
        assert (reports_dir / "minutely" / r["filename"]).read_bytes() == body
        assert body.startswith(b'"day","country","events"')
        assert len(body) == r["size_bytes"]
    assert list((reports_dir / files.TEMP_DIR).glob("*.part")) == []
    client.close()
