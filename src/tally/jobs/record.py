"""A job as the index keeps it, and the statuses it moves through."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson


class Status(StrEnum):
    """Where a job is (SPEC §5)."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def final(self) -> bool:
        """True for statuses a job never leaves."""
        return self in FINAL


FINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.ABORTED})
ACTIVE = frozenset(Status) - FINAL

# Fields stored as JSON; the rest are plain strings or numbers.
_JSON_FIELDS = ("kwargs", "result")
_FLOAT_FIELDS = ("created_at", "started_at", "finished_at", "eta")
_INT_FIELDS = ("priority", "progress", "attempts", "max_attempts")


@dataclass(slots=True)
class JobRecord:
    """Everything the API says about one job."""

    job_id: str
    task: str
    queue: str
    status: Status = Status.QUEUED
    priority: int = 5
    kwargs: dict[str, Any] = field(default_factory=dict)
    progress: int | None = None
    progress_message: str | None = None
    attempts: int = 0
    max_attempts: int = 1
    result: Any = None
    error: str | None = None
    worker: str | None = None
    created_at: float = 0.0
    eta: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    abort_requested: bool = False

    def to_fields(self) -> dict[str, str]:
        """The record as a flat string mapping (a Redis hash)."""
        return encode_fields(asdict(self))

    @classmethod
    def from_fields(cls, raw: dict[str, str]) -> JobRecord:
        """Rebuild a record from `to_fields` output (missing fields take their defaults)."""
        values: dict[str, Any] = {}
        for name, text in raw.items():
            if name not in _NAMES or text == "":
                continue
            if name in _JSON_FIELDS:
                values[name] = orjson.loads(text)
            elif name in _FLOAT_FIELDS:
                values[name] = float(text)
            elif name in _INT_FIELDS:
                values[name] = int(text)
            elif name == "abort_requested":
                values[name] = text == "1"
            elif name == "status":
                values[name] = Status(text)
            else:
                values[name] = text
        return cls(**values)

    def public(self) -> dict[str, Any]:
        """The record in the API's shape (SPEC §5)."""
        out = asdict(self)
        out["status"] = self.status.value
        out.pop("abort_requested")
        return out


_NAMES = frozenset(JobRecord.__dataclass_fields__)


def encode_fields(values: dict[str, Any]) -> dict[str, str]:
    """Encode record fields for a Redis hash; None becomes an empty string."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if name in _JSON_FIELDS:
            out[name] = orjson.dumps(value, default=str).decode()
        elif value is None:
            out[name] = ""
        elif isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif isinstance(value, StrEnum):
            out[name] = value.value
        else:
            out[name] = str(value)
    return out


def iso(ts: float | None) -> str | None:
    """A timestamp as ISO 8601 UTC."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def public(record: JobRecord) -> dict[str, Any]:
    """A job in the API's shape: SPEC §5 fields, timestamps in ISO 8601."""
    out = record.public()
    for name in ("created_at", "started_at", "finished_at", "eta"):
        out[name] = iso(out[name])
    return out
