"""The job platform in embedded mode: same contract, worker threads and an in-process index."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.errors import Conflict, NotFound, TaskUnknown, ValidationFailed
from tally.jobs.record import Status
from tally.runtime.runtime import Runtime, embedded_runtime, stop_embedded
from tally.settings import AnalyticsSettings, JobsSettings, Settings, StoreSettings


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        store=StoreSettings(data_dir=tmp_path),
        analytics=AnalyticsSettings(on_startup=False),
        jobs=JobsSettings(
            breakers={"dbt": {"fail_max": 2, "reset_timeout_s": 2}},
            task_modules="tests.queue.user_tasks",
            abort_check_s=0.1,
            scheduler_poll_s=0.1,
        ),
    )
    yield embedded_runtime(settings)
    stop_embedded()


def test_enqueue_wait_abort_and_history_in_process(runtime: Runtime) -> None:
    # A job runs on the embedded worker threads
    record, created = runtime.jobs.enqueue("test.add", [40], {"b": 2})
    assert created
    assert runtime.jobs.wait(record.job_id, 10).result == 42
    # Bad input is refused before anything is enqueued
    with pytest.raises(TaskUnknown):
        runtime.jobs.enqueue("nope")
    with pytest.raises(ValidationFailed) as err:
        runtime.jobs.enqueue("test.add", kwargs={"a": 1}, priority=12)
    assert err.value.field == "priority"
    with pytest.raises(NotFound):
        runtime.jobs.get("missing")

    # A running job is stopped by its abort; a finished one cannot be aborted
    long, _ = runtime.jobs.enqueue("test.stubborn", kwargs={"seconds": 30})
    _wait_running(runtime, long.job_id)
    assert runtime.jobs.abort(long.job_id) == "aborting"
    assert runtime.jobs.wait(long.job_id, 5).status is Status.ABORTED
    with pytest.raises(Conflict):
        runtime.jobs.abort(record.job_id)

    # A countdown job is held, then runs
    held, _ = runtime.jobs.enqueue("test.add", kwargs={"a": 7}, countdown=1.5)
    assert runtime.jobs.get(held.job_id).eta is not None
    assert runtime.jobs.wait(held.job_id, 10).result == 7

    statuses = {r.job_id: r.status for r in runtime.jobs.recent(None, None, 10)}
    assert statuses[record.job_id] is Status.SUCCEEDED
    assert statuses[long.job_id] is Status.ABORTED
    default = next(q for q in runtime.inspector.queues() if q["name"] == "default")
    assert default["succeeded_24h"] == 2
    assert default["aborted_24h"] == 1


def _wait_running(runtime: Runtime, job_id: str) -> None:
    import time

    deadline = time.monotonic() + 10
    while runtime.jobs.get(job_id).status is not Status.RUNNING:
        assert time.monotonic() < deadline, "job did not start"
        time.sleep(0.05)


def test_sdk_enqueues_and_waits(runtime: Runtime) -> None:
    from tally.sdk import Client

    client = Client(runtime.settings)
    job_id = client.enqueue("test.add", a=20, b=22, priority=9)
    done = client.wait(job_id, timeout_s=10)
    assert done["status"] == "succeeded"
    assert done["result"] == 42
    assert client.job(job_id)["priority"] == 9
    with pytest.raises(ValidationFailed):
        client.enqueue("test.add", a="not a number")


def test_a_job_declaring_an_open_breaker_is_deferred_without_using_its_try(
    runtime: Runtime,
) -> None:
    # Given the dbt breaker opened by two failures in this process
    for _ in range(2):
        with pytest.raises(OSError, match="dbt is down"), runtime.breakers.guard("dbt"):
            raise OSError("dbt is down")
    # When a job that goes through it is enqueued (one try only)
    record, _ = runtime.jobs.enqueue("test.guarded", kwargs={"value": 7})
    # Then it waits as deferred, then runs as the trial once the breaker half-opens
    deadline = time.monotonic() + 5
    while runtime.jobs.get(record.job_id).status is not Status.RETRYING:
        assert time.monotonic() < deadline, runtime.jobs.get(record.job_id)
        time.sleep(0.05)
    assert "deferred" in (runtime.jobs.get(record.job_id).error or "")
    done = runtime.jobs.wait(record.job_id, 15)
    assert (done.status, done.result, done.attempts) == (Status.SUCCEEDED, 7, 1)
    assert next(b for b in runtime.breakers.states() if b["name"] == "dbt")["state"] == "closed"
