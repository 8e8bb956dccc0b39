"""Gauges read at scrape time: queue depths, running jobs, workers, the buffer, breakers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from tally.errors import ConfigError, TallyError

if TYPE_CHECKING:
    from tally.runtime.runtime import Runtime

log = logging.getLogger("tally.metrics")


class StateCollector(Collector):
    """Reads the deployment's state when Prometheus scrapes, so no gauge is ever stale."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rt = self._runtime
        depth = GaugeMetricFamily(
            "tally_queue_depth",
            "Jobs waiting in a queue: ready in the broker, or held in Redis for their eta",
            labels=["queue", "where"],
        )
        running = GaugeMetricFamily("tally_jobs_running", "Jobs running now", labels=["queue"])
        try:
            for q in rt.inspector.queues():
                depth.add_metric([q["name"], "ready"], q["pending"])
                depth.add_metric([q["name"], "held"], q["scheduled"])
                running.add_metric([q["name"]], q["running"])
            yield depth
            yield running
        except TallyError as exc:  # Redis down: the rest of the page still renders
            log.debug("queue metrics unavailable: %s", exc)
        if rt.redis is not None:
            try:
                seen = len(rt.inspector.workers())
                yield GaugeMetricFamily(
                    "tally_workers_seen", "Workers with a fresh heartbeat", seen
                )
            except TallyError as exc:
                log.debug("worker metrics unavailable: %s", exc)
        try:
            info = rt.events.buffer_info()
            yield GaugeMetricFamily(
                "tally_buffer_events", "Events waiting in the buffer", info["events"]
            )
            yield GaugeMetricFamily(
                "tally_buffer_oldest_age_seconds",
                "Age of the oldest waiting event (0 when empty)",
                info["oldest_age_s"] or 0.0,
            )
            if info.get("bytes") is not None:
                yield GaugeMetricFamily(
                    "tally_buffer_bytes",
                    "Bytes of Redis the waiting events take (MEMORY USAGE of the stream)",
                    info["bytes"],
                )
        except TallyError as exc:
            log.debug("buffer metrics unavailable: %s", type(exc).__name__)
        try:
            firing = GaugeMetricFamily(
                "tally_alerts_firing", "Groups of an alert rule firing now", labels=["rule"]
            )
            for rule in rt.alerts.rules():  # labelled by rule name only: bounded
                firing.add_metric([rule["name"]], rule["firing"])
            yield firing
        except TallyError as exc:
            log.debug("alert metrics unavailable: %s", exc)
        try:
            rt.breakers.states()  # refreshes tally_breaker_state
        except TallyError as exc:
            log.debug("breaker metrics unavailable: %s", exc)


_registered: set[int] = set()


def register(runtime: Runtime) -> None:
    """Add the collector for `runtime` to the process's registry (once)."""
    if id(runtime) in _registered:
        return
    REGISTRY.register(StateCollector(runtime))
    _registered.add(id(runtime))


def serve(runtime: Runtime, host: str, port: int) -> None:
    """Serve this process's metrics on http://host:port/metrics (a daemon thread)."""
    register(runtime)
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise ConfigError(f"--metrics-port {port}: cannot listen on {host}: {exc}") from None
    log.info("metrics on http://%s:%d/metrics", host, port)
