"""Drive events through a real API: make them, post them, flush them, count what is stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import wait_until


def make_events(n: int) -> list[dict[str, Any]]:
    """`n` valid events with fresh event_ids."""
    now = datetime.now(UTC).isoformat()
    return [
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "video_view",
            "entity_type": "video",
            "entity_id": f"v{i % 97}",
            "country": "FR",
            "created_at": now,
        }
        for i in range(n)
    ]


def post_all(client: httpx.Client, events: list[dict[str, Any]], batch: int = 5000) -> int:
    """POST `events` in batches, each of which must be accepted; return the count accepted."""
    accepted = 0
    for i in range(0, len(events), batch):
        r = client.post("/api/v1/events", json=events[i : i + batch])
        assert r.status_code == 200, r.text
        accepted += r.json()["accepted"]
    return accepted


def buffered(client: httpx.Client) -> int:
    """Events waiting in the buffer."""
    return int(client.get("/api/v1/events/buffer").json()["events"])


def flush_until_empty(client: httpx.Client, timeout_s: float = 120) -> None:
    """Ask for flushes until the buffer is empty."""

    def done() -> bool:
        client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 60}, timeout=90)
        return buffered(client) == 0

    wait_until(done, timeout_s, "the buffer to be flushed")


def store_stats(client: httpx.Client) -> dict[str, Any]:
    """The store's stats (a job the store's owner runs)."""
    r = client.get("/api/v1/store/stats", params={"timeout_s": 60}, timeout=90)
    assert r.status_code == 200, r.text
    stats: dict[str, Any] = r.json()
    return stats


def stored(client: httpx.Client) -> int:
    """Distinct events stored."""
    return int(store_stats(client)["events"])
