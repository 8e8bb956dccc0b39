"""Prometheus metrics (SPEC §7) scraped from the API and from a worker's --metrics-port."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, wait_http, wait_until
from tests.http_events import make_events
from tests.queue.conftest import Stack

pytestmark = pytest.mark.slow


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics page, keyed by name and sorted labels."""
    text = httpx.get(url, timeout=30).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_api_and_worker_metrics_move_with_a_workload(stack: Stack) -> None:
    # Given an API and a worker serving its metrics on a port of its own
    port = free_port()
    stack.worker("-c", "2", "--metrics-port", str(port), name="metered")
    worker_url, api_url = (
        f"http://127.0.0.1:{port}/metrics",
        f"{str(stack.client.base_url).rstrip('/')}/metrics",
    )
    wait_http(worker_url)
    wait_until(lambda: stack.client.get("/api/v1/health").status_code == 200, 30, "health")

    # When events arrive (3 of them from a country that does not exist) and are flushed
    bad = [{**e, "country": "ZZ"} for e in make_events(3)]
    assert stack.client.post("/api/v1/events", json=make_events(10) + bad).status_code == 200
    api = scrape(api_url)
    assert value(api, "tally_buffer_events") == 10
    flushed = stack.client.post("/api/v1/events/flush", params={"wait": True}, timeout=90)
    assert flushed.status_code == 200, flushed.text

    # And jobs succeed, retry, fail, and analytics runs
    url = stack.redis_url
    ok = [stack.enqueue("test.add", kwargs={"a": i}) for i in range(2)]
    flaky = stack.enqueue("test.flaky", kwargs={"redis_url": url, "key": "metrics-flaky"})
    slow = stack.enqueue("test.slow", kwargs={"seconds": 3})
    for job_id in ok:
        stack.wait_status(job_id, "succeeded")
    stack.wait_status(flaky, "succeeded", timeout_s=60)
    stack.wait_status(slow, "failed")
    run = stack.client.post("/api/v1/analytics/run", json={"wait": True, "timeout_s": 60})
    assert run.status_code == 200, run.text

    # Then the API counts what it accepted and rejected, and reads the state at scrape time
    api = scrape(api_url)
    assert value(api, "tally_events_accepted_total") == 10
    assert value(api, "tally_events_rejected_total", reason="invalid_country") == 3
    assert value(api, "tally_buffer_events") == 0
    assert value(api, "tally_workers_seen") == 1
    assert ("tally_queue_depth", (("queue", "default"), ("where", "ready"))) in api
    assert value(api, "tally_breaker_state", breaker="database") == 0
    assert value(api, "process_resident_memory_bytes") > 0

    # And health lists every queue with its depth and the workers consuming it
    queues = stack.client.get("/api/v1/health").json()["queues"]
    assert set(queues) == {"events", "analytics", "dbt", "alerts", "reports", "monitoring",
                           "default"}  # fmt: skip
    assert queues["default"]["pending"] == 0
    assert len(queues["default"]["workers"]) == 1

    # And the worker counts its jobs by task, queue and state, with durations
    w = scrape(worker_url)
    add = {"task": "test.add", "queue": "default"}
    assert value(w, "tally_jobs_total", **add, state="succeeded") == 2
    assert value(w, "tally_job_duration_seconds_count", **add) == 2
    flaky_labels = {"task": "test.flaky", "queue": "default"}
    assert value(w, "tally_jobs_total", **flaky_labels, state="retried") == 2
    assert value(w, "tally_jobs_total", **flaky_labels, state="succeeded") == 1
    assert value(w, "tally_jobs_total", task="test.slow", queue="default", state="failed") == 1
    flush = {"task": "events.flush", "queue": "events"}
    assert value(w, "tally_jobs_total", **flush, state="succeeded") >= 1
    assert value(w, "tally_flush_batch_events_sum") == 10
    assert value(w, "tally_flush_lag_seconds_count") >= 1
    assert value(w, "tally_analytics_run_seconds_count", status="ok") == 1
    assert value(w, "tally_analytics_last_success_timestamp_seconds") > 0

    # When one more job runs, Then its counter moves by exactly one
    stack.wait_status(stack.enqueue("test.add", kwargs={"a": 9}), "succeeded")
    after = scrape(worker_url)
    assert value(after, "tally_jobs_total", **add, state="succeeded") == 3
