"""Tally's own measures for `metric` alert rules, read from the parts that know them."""

from __future__ import annotations

from collections import Counter

from tally.alerts.rules import MetricSpec
from tally.infra.breakers import Breakers
from tally.ingest.service import IngestService
from tally.jobs.base import JobIndex
from tally.jobs.record import Status
from tally.keys import QUEUES
from tally.queue.inspect import Inspector

FAILED_SCAN = 10_000  # failed jobs read per evaluation (the index keeps the newest)


class RuntimeMeasures:
    """Queue depth, failed jobs, flush lag, buffer age, workers and breakers (SPEC §10)."""

    def __init__(
        self,
        inspector: Inspector,
        index: JobIndex,
        events: IngestService,
        breakers: Breakers,
        flush_interval_s: float,
    ) -> None:
        self._inspector = inspector
        self._index = index
        self._events = events
        self._breakers = breakers
        self._flush_interval_s = flush_interval_s

    def read(self, spec: MetricSpec, now: float) -> dict[str, float]:
        """Value per group: per queue, per task, per breaker, or one ("") for the rest."""
        metric = spec.metric
        if metric == "queue_depth":
            queues = self._inspector.queues()
            return {
                q["name"]: float(q["pending"] + q["scheduled"])
                for q in queues
                if spec.queue in (None, q["name"])
            }
        if metric == "failed_jobs":
            return self._failed(spec, now)
        if metric in ("flush_lag_s", "buffer_oldest_age_s"):
            age = float(self._events.buffer_info()["oldest_age_s"] or 0.0)
            lag = max(0.0, age - self._flush_interval_s) if metric == "flush_lag_s" else age
            return {"": round(lag, 3)}
        if metric == "workers_seen":
            return {"": float(sum(1 for w in self._inspector.workers() if w.get("alive", True)))}
        states = self._breakers.states()
        return {
            b["name"]: 1.0 if b["state"] == "open" else 0.0
            for b in states
            if spec.breaker in (None, b["name"])
        }

    def failures(self, task: str | None, since: float) -> list[tuple[float, str]]:
        """(finished at, task) of the jobs failed since `since` (newest FAILED_SCAN kept)."""
        found = self._index.recent([Status.FAILED], list(QUEUES), FAILED_SCAN, task=task)
        return [(at, r.task) for r in found if (at := r.finished_at or r.created_at) >= since]

    def _failed(self, spec: MetricSpec, now: float) -> dict[str, float]:
        counts: Counter[str] = Counter(t for _, t in self.failures(spec.task, now - spec.window_s))
        if spec.task is not None:
            return {spec.task: float(counts.get(spec.task, 0))}
        return {task: float(n) for task, n in counts.items()}
