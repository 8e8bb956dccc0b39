"""Tally's own measures for `metric` rules, read from a Redis-mode runtime's real parts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.alerts.rules import MetricSpec
from tally.jobs.record import Status
from tally.runtime.measures import RuntimeMeasures
from tally.runtime.runtime import Runtime
from tally.settings import Settings


@pytest.fixture
def runtime(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TALLY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TALLY_FLUSH_INTERVAL_S", "3600")
    built = Runtime(Settings(), run_tasks=False)
    yield built
    built.stop()


def metric(name: str, **extra: object) -> MetricSpec:
    return MetricSpec.model_validate({"kind": "metric", "metric": name, "bound": 0, **extra})


def test_each_measure_reads_the_deployment(runtime: Runtime) -> None:
    measures = RuntimeMeasures(runtime.inspector, runtime.index, runtime.events, runtime.breakers,
                               flush_interval_s=1.0)  # fmt: skip
    now = time.time()
    # Given no worker: two jobs wait in `default`, none elsewhere
    runtime.jobs.send("tally.noop")
    runtime.jobs.send("tally.noop")
    depth = measures.read(metric("queue_depth"), now)
    assert depth["default"] == 2
    assert depth["alerts"] == 0
    assert measures.read(metric("queue_depth", queue="default"), now) == {"default": 2}
    assert measures.read(metric("workers_seen"), now) == {"": 0.0}
    # Breakers: all closed
    breakers = measures.read(metric("breaker_open"), now)
    assert set(breakers) >= {"database", "dbt", "external_api"}
    assert set(breakers.values()) == {0.0}
    # The buffer: an event waiting 1.5 s with a 1 s flush interval is 0.5 s late
    assert runtime.events.ingest([{"event_type": "video_view"}]).accepted.event_ids
    time.sleep(1.5)
    age = measures.read(metric("buffer_oldest_age_s"), time.time())[""]
    lag = measures.read(metric("flush_lag_s"), time.time())[""]
    assert 1.4 < age < 5
    assert 0.4 < lag < 4
    # Failed jobs per task over a window: only those that finished inside it
    job_id = runtime.jobs.send("tally.noop")
    runtime.index.transition(job_id, Status.FAILED, finished_at=time.time(), error="boom")
    failed = measures.read(metric("failed_jobs", window_s=60), time.time())
    assert failed == {"tally.noop": 1.0}
    later = measures.read(metric("failed_jobs", window_s=60), time.time() + 120)
    assert later == {}
