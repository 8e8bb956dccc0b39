"""Events under faults: workers SIGKILLed mid-flush, Redis SIGKILLed mid-ingest."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from tally import keys
from tests.chaos.conftest import Chaos, report
from tests.conftest import wait_until
from tests.http_events import buffered, flush_until_empty, make_events, store_stats

TOTAL = 200_000
BATCH = 1_000


class Poster(threading.Thread):
    """Posts events in batches like an app would, keeping every response's status."""

    def __init__(self, client: httpx.Client, events: list[dict[str, Any]], pause_s: float) -> None:
        super().__init__(name="poster", daemon=True)
        self.client, self.events, self.pause_s = client, events, pause_s
        self.accepted = 0
        self.statuses: dict[int, int] = {}
        self.refused: list[list[dict[str, Any]]] = []  # batches answered 503, to send again
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for i in range(0, len(self.events), BATCH):
                self.send(self.events[i : i + BATCH])
                time.sleep(self.pause_s)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test
            self.error = exc

    def send(self, batch: list[dict[str, Any]]) -> int:
        r = self.client.post("/api/v1/events", json=batch)
        self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
        if r.status_code == 200:
            self.accepted += int(r.json()["accepted"])
        elif r.status_code == 503:
            self.refused.append(batch)
        return r.status_code


@pytest.fixture(params=["chdb", "clickhouse"])
def on_store(request: pytest.FixtureRequest, chaos: Chaos) -> str:
    """Each fault on the embedded store, and again on a live ClickHouse server."""
    if request.param == "clickhouse":
        server = request.getfixturevalue("clickhouse_server")
        database = f"chaos_{uuid.uuid4().hex[:8]}"
        chaos.env.update(CLICKHOUSE_URL=server.url, CLICKHOUSE_DATABASE=database)
    return str(request.param)


def test_200k_events_survive_five_worker_sigkills_during_flushes(
    chaos: Chaos, on_store: str
) -> None:
    # Given an API, and workers that flush by size in small inserts (many moments to die in)
    chaos.env.update(
        TALLY_BATCH_SIZE="10000",
        TALLY_FLUSH_INSERT_EVENTS="2000",
        TALLY_FLUSH_LOCK_TTL_S="2",
    )
    chaos.api()
    r = chaos.redis.client()
    rng = random.Random(20261123)
    poster = Poster(chaos.client, make_events(TOTAL), pause_s=0.08)

    # When 200,000 events are posted while the flushing worker is SIGKILLed five times
    poster.start()
    kills: list[dict[str, Any]] = []
    for n in range(5):
        worker = chaos.worker("-Q", "events", name=f"flusher{n}")
        chaos.client.post("/api/v1/events/flush")
        wait_until(lambda: bool(r.exists(keys.FLUSH_LOCK)), 60, "a flush to start")
        time.sleep(rng.uniform(0, 0.05))
        mid_flush = bool(r.exists(keys.FLUSH_LOCK))
        worker.kill()
        pending = r.xpending(keys.EVENTS_STREAM, keys.EVENTS_GROUP)["pending"]
        kills.append({"mid_flush": mid_flush, "unacked_entries": int(pending)})
    poster.join(120)
    assert poster.error is None, poster.error
    assert not poster.is_alive()

    # Then a new worker stores exactly what was acknowledged, each event once
    chaos.worker("-Q", "events", name="survivor")
    flush_until_empty(chaos.client, timeout_s=180)
    stats = store_stats(chaos.client)
    report(
        f"worker SIGKILL x5 during flushes ({on_store})",
        sent=TOTAL,
        acknowledged=poster.accepted,
        statuses=poster.statuses,
        stored=stats["events"],
        rows=stats["rows"],
        duplicated=stats["rows"] - stats["events"],
        kills_mid_flush=sum(k["mid_flush"] for k in kills),
        kills_leaving_unacked_entries=sum(k["unacked_entries"] > 0 for k in kills),
    )
    assert poster.statuses == {200: TOTAL // BATCH}
    assert poster.accepted == TOTAL
    assert stats["events"] == TOTAL
    assert stats["rows"] == TOTAL  # no event_id twice, even before merges
    assert sum(k["mid_flush"] for k in kills) >= 4, kills
    assert any(k["unacked_entries"] > 0 for k in kills), kills
    r.close()


def test_redis_sigkill_mid_ingest_loses_nothing_acknowledged(chaos: Chaos, on_store: str) -> None:
    # Given an API and a worker on a private Redis that fsyncs every write
    chaos.api()
    chaos.worker("-Q", "events", name="flusher")
    events = make_events(60_000)
    poster = Poster(chaos.client, events, pause_s=0.02)

    # When Redis is SIGKILLed mid-ingest and started again on the same AOF 3 s later
    poster.start()
    wait_until(lambda: poster.accepted >= 15_000, 60, "ingest to be under way")
    chaos.redis.kill()
    down_at = time.monotonic()
    health = chaos.client.get("/api/v1/health")
    during = chaos.client.post("/api/v1/events", json=make_events(3))
    time.sleep(3)
    chaos.redis.start()
    up_at = time.monotonic()
    probe = make_events(1)
    wait_until(
        lambda: chaos.client.post("/api/v1/events", json=probe).status_code == 200,
        30,
        "ingest to resume",
    )
    resumed_s = time.monotonic() - up_at
    poster.join(120)
    assert poster.error is None, poster.error

    # Then requests during the outage got 503 (never a 2xx), and the app's retries of those
    # batches after it are accepted
    assert health.status_code == 503
    assert health.json()["redis"]["status"] == "down"
    assert during.status_code == 503, during.text
    assert "unavailable" in during.json()["error"]["message"]
    assert set(poster.statuses) <= {200, 503}, poster.statuses
    refused, first_try = len(poster.refused), poster.accepted
    for batch in poster.refused:
        assert poster.send(batch) == 200

    # And every acknowledged event is stored exactly once
    flush_until_empty(chaos.client, timeout_s=120)
    stats = store_stats(chaos.client)
    report(
        f"Redis SIGKILL mid-ingest, restart on the same AOF after 3 s ({on_store})",
        sent=len(events),
        acknowledged_first_try=first_try,
        answered_503=poster.statuses.get(503, 0),
        acknowledged_after_retrying_the_503s=poster.accepted,
        stored=stats["events"] - len(probe),
        duplicated=stats["rows"] - stats["events"],
        outage_s=round(up_at - down_at, 1),
        ingest_resumed_after_restart_s=round(resumed_s, 2),
    )
    assert refused > 0, "no request fell in the outage"
    assert poster.accepted == len(events)
    assert stats["events"] == len(events) + len(probe)
    assert stats["rows"] == len(events) + len(probe)
    assert buffered(chaos.client) == 0
