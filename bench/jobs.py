"""Jobs through Tally (enqueue + job index) vs raw Celery `apply_async`, in one run.

  python bench/jobs.py [--jobs 5000] [--latency-jobs 300] [--redis redis://127.0.0.1:6379/15]

Both sides use the same broker configuration (Tally's `celery_config`) and the same worker
settings (threads pool, -c 4, prefetch 1, one `default` queue). Prints jobs/s and p50/p95
enqueue-to-start latency on an idle worker, and Tally's ratios to raw Celery.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

HERE = Path(__file__).resolve().parent
console = Console()


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "REDIS_"))}
    env.update(
        REDIS_URL=url,
        TALLY_DATA_DIR=tempfile.mkdtemp(),
        TALLY_TASK_MODULES="bench_tasks",
        TALLY_ANALYTICS_ON_STARTUP="false",
        TALLY_FLUSH_INTERVAL_S="3600",
        TALLY_LOG_LEVEL="WARNING",
        PYTHONPATH=str(HERE),
    )
    return env


def start_worker(kind: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    common = ["-Q", "default", "-c", "4"]
    if kind == "tally":
        args = [sys.executable, "-m", "tally.cli.main", "worker", *common, "--pool", "threads"]
    else:
        args = [sys.executable, "-m", "celery", "-A", "bench_tasks", "worker", *common,
                "-P", "threads", "--without-mingle", "--without-gossip", "-l", "WARNING"]  # fmt: skip
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)  # ready: both connect and start consuming within this
    return proc


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def bench_tally(url: str, n: int, m: int) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    os.environ.update(env_for(url))
    from tally.jobs.record import Status
    from tally.runtime.runtime import Runtime
    from tally.settings import Settings

    runtime = Runtime(Settings(), run_tasks=False)
    worker = start_worker("tally", env_for(url))
    try:
        latencies = []
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("tally latency", total=m)
            for _ in range(m):
                sent = time.time()
                record, _ = runtime.jobs.enqueue("bench.stamp")
                done = runtime.jobs.wait(record.job_id, 30)
                latencies.append((float(done.result) - sent) * 1000)
                bar.advance(task)
            task = bar.add_task("tally throughput", total=n)
            start = time.perf_counter()
            ids = []
            for _ in range(n):
                ids.append(runtime.jobs.enqueue("bench.stamp")[0].job_id)
                bar.advance(task)
            enqueued = time.perf_counter() - start
            while runtime.index.counts("default", time.time()).succeeded_24h < n + m:
                time.sleep(0.005)
            elapsed = time.perf_counter() - start
        assert all(runtime.jobs.get(j).status is Status.SUCCEEDED for j in ids[-50:])
    finally:
        worker.terminate()
        worker.wait(20)
        runtime.stop()
    return _figures(n, enqueued, elapsed, latencies)


def bench_raw(url: str, n: int, m: int) -> dict[str, float]:
    os.environ.update(env_for(url))
    sys.path.insert(0, str(HERE))
    import bench_tasks

    app = bench_tasks.raw_app()
    worker = start_worker("raw", env_for(url))
    opts: dict[str, Any] = {"queue": "default", "priority": 4}
    try:
        latencies = []
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("raw latency", total=m)
            for _ in range(m):
                sent = time.time()
                started = app.send_task("raw.stamp", **opts).get(timeout=30)
                latencies.append((float(started) - sent) * 1000)
                bar.advance(task)
            task = bar.add_task("raw throughput", total=n)
            start = time.perf_counter()
            results = []
            for _ in range(n):
                results.append(app.send_task("raw.stamp", **opts))
                bar.advance(task)
            enqueued = time.perf_counter() - start
            for r in results:
                r.get(timeout=120)
            elapsed = time.perf_counter() - start
    finally:
        worker.terminate()
        worker.wait(20)
    return _figures(n, enqueued, elapsed, latencies)


def _figures(n: int, enqueued: float, elapsed: float, latencies: list[float]) -> dict[str, float]:
    return {
        "enqueue/s": n / enqueued,
        "jobs/s": n / elapsed,
        "p50 ms": pct(latencies, 50),
        "p95 ms": pct(latencies, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    a = parser.parse_args()
    if not a.redis.startswith(("redis://127.0.0.1", "redis://localhost")):
        sys.exit("bench traffic goes to a loopback Redis only")
    client = redis.Redis.from_url(a.redis)
    client.flushdb()
    raw = bench_raw(a.redis, a.jobs, a.latency_jobs)
    client.flushdb()
    tally = bench_tally(a.redis, a.jobs, a.latency_jobs)
    client.flushdb()

    table = Table(title=f"{a.jobs} no-op jobs, worker -c 4 threads, one run")
    for col in ("", "raw Celery", "Tally", "Tally / raw"):
        table.add_column(col, justify="right")
    for key in ("enqueue/s", "jobs/s", "p50 ms", "p95 ms"):
        ratio = tally[key] / raw[key] if raw[key] else float("nan")
        table.add_row(key, f"{raw[key]:,.2f}", f"{tally[key]:,.2f}", f"{ratio:.2f}x")
    console.print(table)
    console.print(
        f"targets: Tally ≥ 90 % of raw throughput → {tally['jobs/s'] / raw['jobs/s']:.0%}; "
        f"p50 ≤ 5 ms on an idle worker → {tally['p50 ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
