"""Every route that touches Redis answers 503 naming it when Redis is down; none answers 500.

The routes are walked from the app's own routers, not listed by hand: each is called once
with Redis up and once with Redis down, and a route whose answer changed is one that
touches Redis.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from tally.api.app import ROUTERS
from tests.conftest import Proc, RedisServer, api_client, clean_env, free_port, wait_http

pytestmark = pytest.mark.slow

EVENT = {"event_type": "video_view", "entity_type": "video", "entity_id": "v1", "country": "FR"}
# A body that passes validation, so the request reaches Redis (by path; default: none).
BODIES: dict[str, Any] = {"/api/v1/events": EVENT, "/api/v1/jobs": {"task": "tally.noop"}}
# No worker runs here: routes that wait for a job wait briefly (then 504 with Redis up).
PARAMS: dict[str, dict[str, Any]] = {"/api/v1/store/stats": {"timeout_s": 2}}


def _routes() -> list[tuple[str, str]]:
    out = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                path = re.sub(r"\{[^}]+\}", "missing-id", route.path)
                out += [(method, path) for method in sorted(route.methods or ())]
    return sorted(set(out))


def _call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    body = BODIES.get(path)
    params = PARAMS.get(path)
    return client.request(method, path, json=body, params=params, follow_redirects=False)


def test_every_route_that_touches_redis_answers_503_when_it_is_down(
    private_redis: RedisServer, tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given an API on a private Redis
    port = free_port()
    env = clean_env(
        REDIS_URL=private_redis.url(),
        TALLY_DATA_DIR=str(tmp_path / "data"),
        TALLY_REDIS_TIMEOUT_S="0.5",
        TALLY_DASHBOARD_PUBLIC="true",
    )
    api = procs("api", "--port", str(port), env=env, name="api")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=api)
    routes = _routes()
    assert len(routes) > 15
    with api_client(base, timeout=30) as client:
        up = {r: _call(client, *r) for r in routes}
        # When Redis stops
        private_redis.kill()
        down = {r: _call(client, *r) for r in routes}
    # Then no route answers 500, and each one whose answer changed says 503 naming Redis
    assert [
        r for r, resp in down.items() if resp.status_code >= 500 and resp.status_code != 503
    ] == []
    touched = [r for r in routes if down[r].status_code != up[r].status_code]
    assert len(touched) >= 10, touched
    for route in touched:
        resp = down[route]
        assert resp.status_code == 503, (route, resp.status_code, resp.text[:300])
        body = resp.json()
        if route == ("GET", "/api/v1/health"):
            assert body["status"] == "degraded"
            assert "redis unreachable" in body["problems"]
            continue
        assert body["error"]["reason"] == "unavailable", (route, body)
        assert body["error"]["service"] in ("redis", "broker"), (route, body)
    assert "Traceback" not in api.output()
