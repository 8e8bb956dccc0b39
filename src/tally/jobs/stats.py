"""Task statistics from finished job records: runs, outcomes, retries, durations."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from tally.jobs.record import JobRecord, Status


@dataclass(frozen=True, slots=True)
class TaskStats:
    """One task's finished jobs: how many, how they ended, how long they took (seconds)."""

    task: str
    runs: int
    succeeded: int
    failed: int
    retries: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (0-1) of sorted `values`, inclusive method; None when empty."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[max(0, min(98, int(q * 100) - 1))], 3)


def by_task(records: Iterable[JobRecord]) -> list[TaskStats]:
    """Statistics per task, by task name."""
    grouped: dict[str, list[JobRecord]] = {}
    for r in records:
        grouped.setdefault(r.task, []).append(r)
    out = []
    for task in sorted(grouped):
        jobs = grouped[task]
        took = sorted((j.finished_at or 0) - j.started_at for j in jobs if j.started_at is not None)
        out.append(TaskStats(
            task, len(jobs), sum(j.status is Status.SUCCEEDED for j in jobs),
            sum(j.status is Status.FAILED for j in jobs), sum(max(0, j.attempts - 1) for j in jobs),
            quantile(took, 0.5), quantile(took, 0.95), round(took[-1], 3) if took else None,
        ))  # fmt: skip
    return out
