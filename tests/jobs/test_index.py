"""The job index contract, run against Redis and the in-process adapter alike."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from tally import keys
from tally.jobs.base import JobIndex, Retention
from tally.jobs.memory import MemoryJobIndex
from tally.jobs.record import JobRecord, Status
from tally.jobs.redis import RedisJobIndex


@pytest.fixture(params=["redis", "memory"])
def make_index(request: pytest.FixtureRequest) -> Iterator[type]:
    """A factory of indexes with a given retention, on real Redis or in-process."""
    made: list[JobIndex] = []

    def make(ttl_s: int = 3600, max_per_queue: int = 100) -> JobIndex:
        retention = Retention(ttl_s, max_per_queue)
        if request.param == "redis":
            url = request.getfixturevalue("redis_url")
            index: JobIndex = RedisJobIndex(redis.Redis.from_url(url), retention)
        else:
            index = MemoryJobIndex(retention)
        made.append(index)
        return index

    yield make  # type: ignore[misc]
    for index in made:
        index.close()


def rec(job_id: str, queue: str = "default", task: str = "t.x") -> JobRecord:
    return JobRecord(job_id=job_id, task=task, queue=queue, created_at=time.time())


def test_a_job_id_is_created_once(make_index) -> None:  # type: ignore[no-untyped-def]
    # Given an index with job "a"
    index = make_index()
    _, created = index.create(rec("a", task="t.one"))
    # When the same id is created again with another task
    again, created_again = index.create(rec("a", task="t.two"))
    # Then the first job is returned, unchanged
    assert created
    assert not created_again
    assert again.task == "t.one"


def test_transitions_stop_at_a_final_status(make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    index.create(rec("a"))
    assert index.transition("a", Status.RUNNING, started_at=time.time(), attempts=1) == "ok"
    assert index.progress("a", 40, "halfway") is False
    assert index.transition("a", Status.SUCCEEDED, finished_at=time.time(), result={"n": 1}) == "ok"
    # A late re-delivery cannot move a finished job back to running
    assert index.transition("a", Status.RUNNING, started_at=time.time()) == "succeeded"
    job = index.get("a")
    assert job is not None
    assert (job.status, job.progress, job.result) == (Status.SUCCEEDED, 40, {"n": 1})
    assert index.transition("missing", Status.RUNNING) == ""


def test_upsert_creates_an_unknown_job_without_overwriting_a_known_one(make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    created_at = time.time() - 100
    index.create(JobRecord(job_id="a", task="t.x", queue="default", created_at=created_at))
    upsert = {"task": "t.x", "queue": "default", "created_at": time.time()}
    index.transition("a", Status.RUNNING, upsert=upsert, started_at=time.time())
    index.transition("b", Status.RUNNING, upsert=upsert, started_at=time.time())
    a, b = index.get("a"), index.get("b")
    assert a is not None
    assert b is not None
    assert a.created_at == pytest.approx(created_at)
    assert b.status is Status.RUNNING
    assert b.task == "t.x"


def test_abort_of_waiting_running_and_finished_jobs(make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    for job_id in ("waiting", "running", "done"):
        index.create(rec(job_id))
    index.transition("running", Status.RUNNING, started_at=time.time())
    index.transition("done", Status.FAILED, finished_at=time.time(), error="x")

    assert index.abort("waiting", time.time()) == "aborted_now"
    assert index.abort("running", time.time()) == "stopping"
    assert index.abort("done", time.time()) == "failed"
    assert index.abort("nope", time.time()) == ""
    assert index.aborts_requested(["running", "done"]) == {"running"}
    # A progress report tells a running job it was asked to stop
    assert index.progress("running", 10, None) is True
    waiting = index.get("waiting")
    assert waiting is not None
    assert waiting.status is Status.ABORTED
    assert index.counts("default", time.time()).aborted_24h == 1


def test_held_jobs_are_claimed_when_due_and_leased(make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    now = time.time()
    later = JobRecord(job_id="later", task="t.x", queue="default", created_at=now, eta=now + 60)
    due = JobRecord(job_id="due", task="t.x", queue="default", created_at=now, eta=now + 2)
    index.create(later, {"task": "t.x", "kwargs": {}})
    index.create(due, {"task": "t.x", "kwargs": {"n": 1}})
    assert index.counts("default", now).scheduled == 2

    assert index.claim_due("default", now, lease_s=30) == []
    claimed = index.claim_due("default", now + 3, lease_s=30)
    assert claimed == [("due", {"task": "t.x", "kwargs": {"n": 1}})]
    # Leased: a second promoter does not get it again until the lease lapses
    assert index.claim_due("default", now + 4, lease_s=30) == []
    assert [j for j, _ in index.claim_due("default", now + 40, lease_s=30)] == ["due"]
    index.release("default", "due")
    # Aborting a held job removes it: it is never sent
    index.abort("later", now)
    assert index.claim_due("default", now + 100, lease_s=30) == []


def test_history_is_listed_newest_first_and_filtered(make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    for i in range(6):
        index.create(rec(f"j{i}", queue="default" if i % 2 else "alerts", task=f"t.{i % 3}"))
        index.transition(f"j{i}", Status.SUCCEEDED if i < 4 else Status.FAILED,
                         finished_at=time.time() + i)  # fmt: skip
    index.create(rec("queued"))
    queues = list(keys.QUEUES)
    assert [r.job_id for r in index.recent(list(Status), queues, 3)] == ["j5", "j4", "j3"]
    assert [r.job_id for r in index.recent([Status.FAILED], queues, 10)] == ["j5", "j4"]
    assert [r.job_id for r in index.recent([Status.QUEUED], queues, 10)] == ["queued"]
    assert [r.job_id for r in index.recent(list(Status), queues, 10, "t.0")] == ["j3", "j0"]
    counts = index.counts("default", time.time())
    assert (counts.succeeded_24h, counts.failed_24h) == (2, 1)


def test_finished_since_counts_one_status_from_a_moment(make_index) -> None:  # type: ignore[no-untyped-def]
    # Given jobs finished before and after a moment, in two queues and two statuses
    index = make_index()
    now = time.time()
    for i, (queue, status, at) in enumerate([("default", Status.SUCCEEDED, now - 100),
                                             ("default", Status.SUCCEEDED, now - 5),
                                             ("alerts", Status.SUCCEEDED, now - 1),
                                             ("alerts", Status.FAILED, now - 1)]):  # fmt: skip
        index.create(rec(f"j{i}", queue=queue))
        index.transition(f"j{i}", status, finished_at=at)
    # When counted from ten seconds ago, then Only the later ones of that status count
    assert index.finished_since(["default", "alerts"], Status.SUCCEEDED, now - 10) == 2
    assert index.finished_since(["default"], Status.SUCCEEDED, now - 10) == 1
    assert index.finished_since(["alerts"], Status.FAILED, now - 10) == 1


def test_history_is_capped_per_queue_and_status(make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index(max_per_queue=3)
    for i in range(5):
        index.create(rec(f"j{i}"))
        index.transition(f"j{i}", Status.SUCCEEDED, finished_at=time.time() + i)
    kept = index.recent([Status.SUCCEEDED], ["default"], 10)
    assert [r.job_id for r in kept] == ["j4", "j3", "j2"]
    assert index.get("j0") is None  # the record went with its place in history


def test_history_expires_after_its_ttl(make_index) -> None:  # type: ignore[no-untyped-def]
    # Given a 1 s history TTL
    index = make_index(ttl_s=1)
    index.create(rec("old"))
    index.transition("old", Status.SUCCEEDED, finished_at=time.time())
    assert index.get("old") is not None
    # When more than the TTL passes
    time.sleep(2.2)
    # Then the job is gone from records and listings
    index.create(rec("new"))  # an unrelated write
    assert index.get("old") is None
    assert [r.job_id for r in index.recent(list(Status), ["default"], 10)] == ["new"]


def test_every_redis_key_of_the_index_has_a_ttl(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    index = RedisJobIndex(client, Retention(3600, 10))
    now = time.time()
    index.create(rec("a"))
    index.create(JobRecord(job_id="h", task="t", queue="default", created_at=now, eta=now + 60), {})
    index.transition("a", Status.RUNNING, started_at=now)
    index.create(rec("b"))
    index.transition("b", Status.FAILED, finished_at=now)
    names = list(client.scan_iter(match="tally:*"))
    assert len(names) >= 5
    assert all(client.ttl(n) > 0 for n in names), {n: client.ttl(n) for n in names}
