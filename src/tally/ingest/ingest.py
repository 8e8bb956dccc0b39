"""Ingest: validate a request's events and append the valid ones to the buffer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from tally.buffer.base import EventBuffer
from tally.events.accept import Accepted, AcceptOptions, accept

EVENTS_ACCEPTED = Counter("tally_events_accepted_total", "Events accepted into the buffer")
EVENTS_REJECTED = Counter(
    "tally_events_rejected_total", "Events rejected at ingest, by reason", ["reason"]
)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to a request's events, and whether a size-triggered flush is due."""

    accepted: Accepted
    flush_due: bool

    def as_dict(self) -> dict[str, Any]:
        """The API's response body."""
        a = self.accepted
        return {
            "accepted": a.accepted,
            "rejected": len(a.rejections),
            "event_ids": a.event_ids,
            "errors": [r.as_dict() for r in a.rejections],
        }


def ingest(
    items: list[Any],
    buffer: EventBuffer,
    options: AcceptOptions,
    *,
    batch_size: int,
    flush_debounce_s: float = 5.0,
    now: datetime | None = None,
) -> IngestResult:
    """Validate, then append all valid events at once (all or none reach the buffer)."""
    result = accept(items, options, now)
    for rejection in result.rejections:
        EVENTS_REJECTED.labels(reason=rejection.reason.value).inc()
    flush_due = False
    if result.lines:
        buffer.append(result.lines)
        EVENTS_ACCEPTED.inc(result.accepted)
        flush_due = buffer.size() >= batch_size and buffer.request_flush(flush_debounce_s)
    return IngestResult(result, flush_due)
