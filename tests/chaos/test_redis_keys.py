"""Every Redis key a workload leaves has a TTL or a stated bound (celery#7801 and its kin)."""

from __future__ import annotations

import re
import time

import redis

from tests.chaos.conftest import Chaos, report
from tests.conftest import wait_until
from tests.http_events import flush_until_empty, make_events, post_all

# Keys allowed to live without a TTL, each with the bound that keeps it from growing.
BOUNDED: dict[str, str] = {
    # the buffer: trimmed on acknowledgement (XDEL), so it holds only what is waiting
    r"tally:events:stream": "stream entries waiting for a flush",
    r"tally:events:count": "one counter",
    # circuit breakers: a fixed set of fields per configured breaker
    r"tally:breaker:\w+:pybreaker:\w+": "a few fields per configured breaker",
    # Celery's Redis transport: one binding set per queue, lists and the unacked hash hold
    # only messages in flight
    r"_kombu\.binding\.[\w.]+": "one per queue",
    r"_kombu\.binding_permanent\.[\w.]+": "one member per queue bound to the exchange",
    r"_kombu\.binding_deadlines": "expiring bindings (pidbox), swept by kombu",
    r"(events|analytics|dbt|alerts|reports|monitoring|default)(\x06\x16\d)?": "waiting messages",
    r"unacked(_index|_mutex)?": "messages delivered and not yet acknowledged",
}


def test_every_key_after_a_workload_has_a_ttl_or_a_bound(chaos: Chaos) -> None:
    # Given the whole stack: API with a rate limit, a worker, a beat
    chaos.env.update(TALLY_INGEST_RATE_LIMIT="1000000", TALLY_FLUSH_INTERVAL_S="2")
    chaos.api()
    chaos.worker("-c", "4", name="all")
    chaos.start("beat", env=chaos.env, name="beat")
    c = chaos.client

    # When it ingests, flushes, runs analytics and jobs that succeed, retry, fail, are aborted,
    # wait for their eta and are deferred by an open breaker
    assert post_all(c, make_events(20_000), batch=2_000) == 20_000
    flush_until_empty(c)
    assert c.post("/api/v1/analytics/run", json={"wait": True, "timeout_s": 60}).status_code == 200
    assert c.get("/api/v1/store/stats", params={"timeout_s": 60}).status_code == 200
    url = chaos.redis.url()
    ids = {
        "ok": chaos.enqueue("test.add", kwargs={"a": 1}),
        "retried": chaos.enqueue("test.flaky", kwargs={"redis_url": url, "key": "flaky"}),
        "failed": chaos.enqueue("test.slow", kwargs={"seconds": 3}),
        "aborted": chaos.enqueue("test.sleepy", kwargs={"seconds": 30}),
        "held": chaos.enqueue("test.add", kwargs={"a": 2}, countdown=2),
    }
    chaos.wait_job(ids["aborted"], lambda j: j["status"] == "running", 30, "running")
    c.delete(f"/api/v1/jobs/{ids['aborted']}")
    for _ in range(3):
        failing = {"redis_url": url, "key": "ext", "fail": True}
        chaos.enqueue("test.external", kwargs=failing)
    final = {"succeeded", "failed", "aborted"}
    for job_id in ids.values():
        chaos.wait_job(job_id, lambda j: j["status"] in final, 60, "a final status")
    time.sleep(3)  # a few beat ticks and flushes more

    # Then every key has a TTL, or matches a bounded kind and stays within its bound
    r = chaos.redis.client()
    unbounded: list[str] = []
    kinds: dict[str, int] = {}
    for raw in r.scan_iter(count=1000):
        key = raw.decode(errors="replace")
        ttl = r.ttl(raw)
        bound = next((b for pattern, b in BOUNDED.items() if re.fullmatch(pattern, key)), None)
        kinds[_kind(key)] = kinds.get(_kind(key), 0) + 1
        if ttl == -1 and bound is None and not key.startswith(("flaky", "ext")):
            unbounded.append(key)
    wait_until(lambda: _in_flight(r) == 0, 30, "nothing in flight")
    report(
        "Redis keys after a workload",
        keys=sum(kinds.values()),
        by_kind=kinds,
        without_ttl_or_bound=unbounded,
    )
    assert unbounded == []
    assert r.xlen("tally:events:stream") == 0  # trimmed: everything was acknowledged
    assert r.hlen("unacked") == 0
    r.close()


def _kind(key: str) -> str:
    """A key with its ids and numbers replaced: one line per kind in the report."""
    key = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", key)
    return re.sub(r"\d+", "<n>", key)


def _in_flight(r: redis.Redis) -> int:
    return int(r.hlen("unacked"))
