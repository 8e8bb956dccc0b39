"""The ingest rate limit through a real `tally api` process: 429 with Retry-After, per token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import API_TOKEN, Proc, api_client, clean_env, free_port, wait_http

OTHER_TOKEN = "another-token-9876543210"


def test_ingest_past_the_token_limit_gets_429_with_retry_after(
    redis_url: str, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given an API allowing 50 events per second per token, with two tokens
    env = clean_env(
        REDIS_URL=redis_url,
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_INGEST_RATE_LIMIT="50",
        TALLY_FLUSH_INTERVAL_S="3600",
        TALLY_ANALYTICS_ON_STARTUP="false",
    )
    env["TALLY_API_TOKENS"] = f"{API_TOKEN},{OTHER_TOKEN}"
    port = free_port()
    api = procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    batch = [{"event_type": "video_view", "entity_type": "video", "entity_id": "v1"}] * 30
    with api_client(base) as first, api_client(base, token=OTHER_TOKEN) as second:
        # When one token sends 30 events, then 30 more within the same second
        ok = first.post("/api/v1/events", json=batch)
        limited = first.post("/api/v1/events", json=batch)
        other = second.post("/api/v1/events", json=batch)
        buffered = first.get("/api/v1/events/buffer").json()
    if limited.status_code == 200:  # the second ticked over between the two posts: again
        limited = first.post("/api/v1/events", json=batch)
    # Then the first is accepted, the second refused with 429 and Retry-After, nothing of
    # it buffered, and the other token has its own allowance
    assert ok.status_code == 200, ok.text
    assert limited.status_code == 429, limited.text
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["reason"] == "rate_limited"
    assert other.status_code == 200, other.text
    assert buffered["events"] in (60, 90)  # never the refused request's 30
    logged = api.log.read_text(errors="replace")
    assert API_TOKEN not in logged
    assert OTHER_TOKEN not in logged
