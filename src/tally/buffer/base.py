"""The buffer port: append validated events, hand them out in batches, acknowledge them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Final

# Events per buffer entry: large enough that a 10,000-event flush is a few round trips,
# small enough that an entry stays a modest Redis value (~150 KB at 300 bytes an event).
CHUNK_EVENTS: Final = 500


@dataclass(slots=True)
class Batch:
    """Entries handed to one flusher; acknowledge them once they are stored."""

    entry_ids: list[str] = field(default_factory=list)
    entry_events: list[int] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    events: int = 0
    reclaimed: bool = False

    def add(self, entry_id: str, events: int, payload: bytes | None) -> None:
        """Add one entry (payload None: the entry is gone, only its id is left to ack)."""
        self.entry_ids.append(entry_id)
        self.entry_events.append(events)
        if payload is not None:
            self.chunks.append(payload)
            self.events += events

    def ndjson(self) -> bytes:
        """All events of the batch as newline-delimited JSON."""
        return b"\n".join(self.chunks)

    def extend(self, other: Batch) -> None:
        """Add another read's entries to this batch."""
        self.entry_ids.extend(other.entry_ids)
        self.entry_events.extend(other.entry_events)
        self.chunks.extend(other.chunks)
        self.events += other.events


class FlushLock(ABC):
    """A lease held by the one flusher allowed to run; it expires if the holder dies."""

    @abstractmethod
    def refresh(self) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another)."""

    @abstractmethod
    def release(self) -> None:
        """Give the lease back."""


def chunked(lines: list[bytes], size: int = CHUNK_EVENTS) -> list[tuple[int, bytes]]:
    """Group encoded events into (count, NDJSON payload) entries."""
    return [
        (len(lines[i : i + size]), b"\n".join(lines[i : i + size]))
        for i in range(0, len(lines), size)
    ]


class EventBuffer(ABC):
    """Where accepted events wait, durably, until a flush stores them."""

    kind: str = "buffer"

    @abstractmethod
    def append(self, lines: list[bytes]) -> None:
        """Add encoded events, all or none; once this returns they survive a crash."""

    @abstractmethod
    def size(self) -> int:
        """Events waiting to be stored, including those handed out and not yet acknowledged."""

    @abstractmethod
    def oldest_age_s(self) -> float | None:
        """Age in seconds of the oldest waiting event's entry, or None when empty."""

    @abstractmethod
    def reclaim(self, consumer: str, max_events: int) -> Batch:
        """Take over entries a dead flusher read but never acknowledged."""

    @abstractmethod
    def read(self, consumer: str, max_events: int) -> Batch:
        """Hand out new entries, about `max_events` events (never split an entry)."""

    @abstractmethod
    def ack(self, batch: Batch) -> None:
        """Forget entries that are stored; they are never handed out again."""

    @abstractmethod
    def acquire_flush_lock(self, ttl_s: float) -> FlushLock | None:
        """The flush lease, or None when another flusher holds it."""

    @abstractmethod
    def request_flush(self, debounce_s: float) -> bool:
        """True for the first caller in `debounce_s` seconds: it should enqueue a flush."""

    @abstractmethod
    def clear_flush_request(self) -> None:
        """Let the next size trigger enqueue a flush again."""

    def memory_bytes(self) -> int | None:
        """Bytes the waiting events take in their backing service (None: not measured)."""
        return None

    @abstractmethod
    def ping(self) -> bool:
        """True when the buffer's backing service answers."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
