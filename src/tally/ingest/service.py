"""Ingest as the API and SDK see it: rate limit, validate, buffer, and trigger a flush."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from prometheus_client import Counter

from tally import keys
from tally.buffer.base import EventBuffer
from tally.errors import RateLimited, RedisFull, UnavailableError
from tally.events.accept import AcceptOptions
from tally.ingest.ingest import IngestResult, ingest
from tally.ingest.ratelimit import ANONYMOUS, RateLimiter
from tally.jobs.client import JobClient
from tally.settings import FlushSettings, IngestSettings

log = logging.getLogger("tally.ingest")

INGEST_REFUSED = Counter(
    "tally_ingest_refused_total",
    "Ingest requests refused whole, nothing kept: buffer_full, redis_may_evict, "
    "redis_not_persistent, unavailable, rate_limited",
    ["reason"],
)


def accept_options(settings: IngestSettings, *, retention_days: int) -> AcceptOptions:
    """Validation limits and privacy options from settings."""
    return AcceptOptions(
        max_batch_events=settings.max_batch_events,
        max_event_bytes=settings.max_event_bytes,
        retention_days=retention_days,
        max_future_skew_s=settings.max_future_skew_s,
        reject_bots=settings.reject_bots,
        ip_anonymization=settings.ip_anonymization,
        ip_hash_salt=settings.ip_hash_salt.get_secret_value(),
    )


class Admission(Protocol):
    """Whether events may be accepted now (tally.infra.redis_policy.PolicyGuard)."""

    def check_ingest(self) -> None:
        """Raise (an UnavailableError saying why) to refuse before anything is kept."""

    def wrote(self, lines: list[bytes]) -> None:
        """These encoded events were appended."""

    def refused_full(self) -> None:
        """Ingest was refused for lack of memory (by the admission itself, or by Redis)."""


class IngestService:
    """Events into the buffer (SPEC §2); a flush is enqueued once it passes the batch size."""

    def __init__(
        self,
        buffer: EventBuffer,
        options: AcceptOptions,
        rate_limiter: RateLimiter,
        jobs: JobClient,
        flush: FlushSettings,
        admission: Admission | None = None,
    ) -> None:
        self.buffer = buffer
        self._admission = admission
        self.options = options
        self.rate_limiter = rate_limiter
        self._jobs = jobs
        self._flush = flush

    def ingest(self, items: list[Any], client_id: str = ANONYMOUS) -> IngestResult:
        """Validate and buffer events; `client_id` names the caller for the rate limit.

        Refused whole (nothing kept) with RateLimited, or an UnavailableError whose reason
        says why: Redis down, full (`buffer_full`), or unsafe (`redis_may_evict`).
        """
        try:
            self.rate_limiter.take(client_id, len(items))
            if self._admission is not None:
                self._admission.check_ingest()
            result = ingest(items, self.buffer, self.options, batch_size=self._flush.batch_size)
            if self._admission is not None:
                self._admission.wrote(result.accepted.lines)
        except RateLimited:
            INGEST_REFUSED.labels(reason="rate_limited").inc()
            raise
        except UnavailableError as exc:
            INGEST_REFUSED.labels(reason=exc.reason).inc()
            if isinstance(exc, RedisFull) and self._admission is not None:
                self._admission.refused_full()
            raise
        if result.flush_due:
            try:
                self._jobs.send(keys.TASK_FLUSH)
            except UnavailableError:
                # The events are safely buffered; the scheduled flush will store them.
                log.warning("size-triggered flush not enqueued: broker unavailable")
        return result

    def buffer_info(self) -> dict[str, Any]:
        """Events waiting and the age of the oldest."""
        size = self.buffer.size()
        age = self.buffer.oldest_age_s()
        return {
            "events": size,
            "oldest_age_s": None if age is None else round(age, 3),
            "batch_size": self._flush.batch_size,
            "flush_interval_s": self._flush.interval_s,
            "backend": self.buffer.kind,
            "bytes": self.buffer.memory_bytes(),
        }
