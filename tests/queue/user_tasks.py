"""User tasks the job tests load through TALLY_TASK_MODULES, as a user's module would be."""

from __future__ import annotations

import os
import time

import redis

from tally.jobs import JobContext, job, report_progress


def _log(redis_url: str, key: str, value: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.rpush(key, value)
    client.expire(key, 600)
    client.close()


@job("test.add")
def add(a: int, b: int = 0) -> int:
    """Add two integers."""
    return a + b


@job("test.record")
def record(redis_url: str, key: str, label: str) -> str:
    """Append `label` to a Redis list: the order jobs ran in."""
    _log(redis_url, key, label)
    return label


@job("test.sleepy")
def sleepy(seconds: float, steps: int = 20) -> int:
    """Sleep in steps, reporting progress (a cooperative long job)."""
    for step in range(steps):
        time.sleep(seconds / steps)
        report_progress(100 * (step + 1) / steps, f"step {step + 1}/{steps}")
    return steps


@job("test.stubborn")
def stubborn(seconds: float) -> str:
    """Busy for `seconds` without ever checking for an abort."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return "finished"


@job("test.slow", timeout_s=1)
def slow(seconds: float) -> str:
    """Longer than its 1 s timeout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return "finished"


@job("test.flaky", max_tries=3, backoff_s=1)
def flaky(redis_url: str, key: str, ctx: JobContext) -> int:
    """Fails on its first two attempts; logs when each attempt started."""
    _log(redis_url, key, f"{ctx.attempt}:{time.time()}")
    if ctx.attempt < 3:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
    return ctx.attempt


@job("test.external", max_tries=1)
def external(redis_url: str, key: str, fail: bool, ctx: JobContext) -> str:
    """Calls a pretend external API through the `external_api` breaker; fails when told."""
    _log(redis_url, key, f"{os.getpid()}:{ctx.attempt}")
    with ctx.breaker("external_api"):
        time.sleep(0.3)  # long enough that both test workers take a job
        if fail:
            raise ConnectionError("the external API is down")
    return "ok"


@job("test.guarded", max_tries=1, breakers=("dbt",))
def guarded(value: int) -> int:
    """Goes through the `dbt` breaker as a whole: deferred while it is open."""
    return value
