"""Jobs under faults: a worker SIGKILLed mid-job, Redis restarted under an idle worker, SIGTERM."""

from __future__ import annotations

import time
from datetime import datetime

import redis

from tally import keys
from tally.jobs.registry import HARD_LIMIT_GRACE_S
from tests.chaos.conftest import Chaos, broker_unacked, report

JOB_TIMEOUT_S, MARGIN_S, CHECK_S = 12, 5, 1
# A delivered message is re-delivered this long after delivery, if nobody acked it.
VISIBILITY_S = JOB_TIMEOUT_S + HARD_LIMIT_GRACE_S + MARGIN_S
FAST_REDELIVERY = {
    "TALLY_JOB_TIMEOUT": str(JOB_TIMEOUT_S),
    "TALLY_VISIBILITY_MARGIN_S": str(MARGIN_S),
    "TALLY_REDELIVERY_CHECK_S": str(CHECK_S),
}


def test_a_job_whose_worker_is_sigkilled_runs_again_within_the_visibility_bound(
    chaos: Chaos,
) -> None:
    # Given workers whose longest hard limit is 42 s: visibility timeout 47 s, swept every 1 s
    chaos.env.update(FAST_REDELIVERY)
    chaos.api()
    doomed = chaos.worker("-Q", "default", name="doomed")
    chaos.wait_worker_ready("doomed")
    job_id = chaos.enqueue("test.sleepy", kwargs={"seconds": 10, "steps": 20})
    first = chaos.wait_job(job_id, lambda j: (j["progress"] or 0) >= 20, 30, "20% done")
    assert first["worker"] == "celery@doomed"
    chaos.worker("-Q", "default", name="rescuer")
    chaos.wait_worker_ready("rescuer")

    # When the worker running it is SIGKILLed at 20%
    doomed.kill()
    killed_at = time.time()

    # Then the message waits out the visibility timeout, runs on the other worker and succeeds
    again = chaos.wait_job(
        job_id, lambda j: j["worker"] == "celery@rescuer", VISIBILITY_S + 30, "re-delivery"
    )
    redelivered_s = _ts(again["started_at"]) - _ts(first["started_at"])
    done = chaos.wait_job(job_id, lambda j: j["status"] == "succeeded", 30, "success")
    with chaos.redis.client() as r:
        unacked = broker_unacked(r)
    report(
        "worker SIGKILL in the middle of a 10 s job",
        visibility_timeout_s=VISIBILITY_S,
        bound_s=VISIBILITY_S + CHECK_S,
        redelivered_after_delivery_s=round(redelivered_s, 1),
        redelivered_after_kill_s=round(_ts(again["started_at"]) - killed_at, 1),
        succeeded_after_kill_s=round(_ts(done["finished_at"]) - killed_at, 1),
        attempts=done["attempts"],
    )
    assert VISIBILITY_S - 1 <= redelivered_s <= VISIBILITY_S + CHECK_S + 2, redelivered_s
    assert done["result"] == 20
    assert done["attempts"] == 1  # a lost worker does not use one of the job's tries
    assert unacked == 0


def test_an_idle_worker_consumes_again_after_redis_restarts(chaos: Chaos) -> None:
    # Given an idle worker that has run a job
    chaos.api()
    worker = chaos.worker(name="idle")
    first = chaos.enqueue("test.add", kwargs={"a": 1, "b": 1})
    chaos.wait_job(first, lambda j: j["status"] == "succeeded", 60, "the first job")

    # When Redis is SIGKILLed and comes back on its AOF 3 s later
    up_at = chaos.redis_outage(3)

    # Then, without restarting the worker, a new job runs within 30 s
    chaos.new_job_succeeds()
    consumed_s = time.monotonic() - up_at
    report(
        "Redis SIGKILL and restart while a worker is idle",
        consuming_again_after_restart_s=round(consumed_s, 1),
        worker_restarted=worker.popen.poll() is not None,
    )
    assert worker.popen.poll() is None
    assert consumed_s <= 30


def test_sigterm_lets_a_running_job_finish(chaos: Chaos) -> None:
    # Given a worker running a 3 s job, with the default 25 s shutdown grace
    chaos.api()
    worker = chaos.worker(name="graceful")
    job_id = chaos.enqueue("test.sleepy", kwargs={"seconds": 3, "steps": 30})
    chaos.wait_job(job_id, lambda j: j["status"] == "running", 30, "running")

    # When the worker gets SIGTERM
    worker.popen.terminate()
    worker.popen.wait(30)

    # Then the job finished, was acknowledged, and the worker exited cleanly
    done = chaos.job(job_id)
    with chaos.redis.client() as r:
        unacked, waiting = broker_unacked(r), _waiting(r)
    report(
        "SIGTERM during a 3 s job (grace 25 s)",
        job_status=done["status"],
        worker_exit_code=worker.popen.returncode,
        unacked=unacked,
    )
    assert done["status"] == "succeeded"
    assert done["attempts"] == 1
    assert worker.popen.returncode == 0
    assert (unacked, waiting) == (0, 0)


def test_sigterm_re_queues_a_job_that_outlives_the_grace(chaos: Chaos) -> None:
    # Given a worker with a 2 s shutdown grace, running an 8 s job
    chaos.api()
    worker = chaos.worker(name="hasty", TALLY_SHUTDOWN_GRACE_S="2")
    job_id = chaos.enqueue("test.sleepy", kwargs={"seconds": 8, "steps": 80})
    chaos.wait_job(job_id, lambda j: j["status"] == "running", 30, "running")

    # When the worker gets SIGTERM
    worker.popen.terminate()
    sent_at = time.monotonic()
    worker.popen.wait(30)
    exited_s = time.monotonic() - sent_at

    # Then after the grace the job goes back to its queue, untried, and the worker exits
    requeued = chaos.job(job_id)
    with chaos.redis.client() as r:
        unacked, waiting = broker_unacked(r), _waiting(r)
    assert requeued["status"] == "queued"
    assert "worker shut down" in requeued["error"]
    assert (unacked, waiting) == (0, 1)
    assert worker.popen.returncode == 0

    # And the next worker runs it to the end
    chaos.worker(name="next")
    done = chaos.wait_job(job_id, lambda j: j["status"] == "succeeded", 60, "success")
    report(
        "SIGTERM during an 8 s job (grace 2 s)",
        worker_exited_after_s=round(exited_s, 1),
        status_after_shutdown=requeued["status"],
        final_status=done["status"],
        attempts=done["attempts"],
    )
    assert done["attempts"] == 1
    assert done["result"] == 80


def _waiting(r: redis.Redis) -> int:
    """Messages waiting in the default queue's lists."""
    return sum(int(r.llen(k)) for k in keys.broker_queue_keys(keys.DEFAULT_QUEUE))


def _ts(iso: str) -> float:
    """Epoch seconds of an API timestamp."""
    return datetime.fromisoformat(iso).timestamp()


def test_a_worker_survives_redis_dying_under_a_running_job(chaos: Chaos) -> None:
    # Given a worker running a 4 s job (visibility timeout 47 s, swept every 1 s)
    chaos.env.update(FAST_REDELIVERY)
    chaos.api()
    worker = chaos.worker(name="steady")
    job_id = chaos.enqueue("test.sleepy", kwargs={"seconds": 4, "steps": 40})
    chaos.wait_job(job_id, lambda j: j["status"] == "running", 30, "running")

    # When Redis is SIGKILLed under it and comes back 2 s later
    up_at = chaos.redis_outage(2)

    # Then the same worker process goes on: it runs new jobs...
    chaos.new_job_succeeds()
    consuming_s = time.monotonic() - up_at
    assert worker.popen.poll() is None, worker.output()[-3000:]

    # ...and the job that was running when Redis died ends succeeded (re-delivered if its
    # outcome could not be recorded), once
    done = chaos.wait_job(
        job_id, lambda j: j["status"] == "succeeded", VISIBILITY_S + 30, "the interrupted job"
    )
    report(
        "Redis SIGKILL under a running job, restart after 2 s",
        worker_alive=worker.popen.poll() is None,
        consuming_again_after_restart_s=round(consuming_s, 1),
        interrupted_job_final_status=done["status"],
        interrupted_job_finished_after_restart_s=round(time.monotonic() - up_at, 1),
    )
    assert done["result"] == 40
