"""Parse a request body, validate each event, and encode the valid ones for the buffer."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError

from tally.errors import PayloadTooLarge, ValidationFailed
from tally.events.schema import Event, Reason, ValidationContext

_EVENTS = TypeAdapter(list[Event])

# Pydantic's own error types, mapped onto Tally's reasons; custom errors carry the reason as type.
_PYDANTIC_REASONS = {
    "missing": Reason.MISSING_FIELD,
    "extra_forbidden": Reason.UNKNOWN_FIELD,
    "string_too_long": Reason.TOO_LARGE,
    "too_long": Reason.TOO_LARGE,
    "model_type": Reason.NOT_AN_OBJECT,
    "model_attributes_type": Reason.NOT_AN_OBJECT,
    "dict_type": Reason.INVALID_FIELD,
}
_REASONS = {r.value: r for r in Reason}


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected event: its position in the request, the field and the reason."""

    index: int
    reason: Reason
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the API."""
        return {
            "index": self.index,
            "reason": self.reason.value,
            "field": self.field,
            "message": self.message,
        }


@dataclass(slots=True)
class Accepted:
    """What validation made of a request: encoded valid events and the rejections."""

    lines: list[bytes] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        """Number of valid events."""
        return len(self.lines)


@dataclass(frozen=True, slots=True)
class AcceptOptions:
    """Limits and privacy options that shape acceptance."""

    max_batch_events: int = 10_000
    max_event_bytes: int = 32_768
    retention_days: int = 90
    max_future_skew_s: int = 300
    reject_bots: bool = True
    ip_anonymization: Literal["none", "truncate", "hash"] = "none"
    ip_hash_salt: str = ""


def parse_body(body: bytes, content_type: str | None) -> list[Any]:
    """Turn a request body (one object, a JSON array, or NDJSON) into a list of items."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    stripped = body.strip()
    if not stripped:
        raise ValidationFailed("body", Reason.INVALID_JSON.value, "the request body is empty")
    if ctype in ("application/x-ndjson", "application/ndjson", "application/jsonl") or (
        stripped[:1] == b"{" and b"\n" in stripped and not _is_single_json(stripped)
    ):
        return _parse_ndjson(stripped)
    try:
        doc = orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(
            "body", Reason.INVALID_JSON.value, f"malformed JSON: {exc}"
        ) from None
    return doc if isinstance(doc, list) else [doc]


def _is_single_json(body: bytes) -> bool:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


class _BadLine:
    """Stands in for an NDJSON line that is not JSON, so its index keeps its place."""

    __slots__ = ("error",)

    def __init__(self, error: str) -> None:
        self.error = error


def _parse_ndjson(body: bytes) -> list[Any]:
    items: list[Any] = []
    for line in body.split(b"\n"):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            items.append(_BadLine(str(exc)))
    return items


def accept(items: list[Any], options: AcceptOptions, now: datetime | None = None) -> Accepted:
    """Validate every item; keep the valid ones encoded, give each rejected one its reason."""
    if len(items) > options.max_batch_events:
        raise PayloadTooLarge(
            "body",
            Reason.TOO_LARGE.value,
            f"{len(items)} events in one request; the limit is {options.max_batch_events}",
        )
    now = now or datetime.now(UTC)
    ctx = ValidationContext(
        now=now,
        retention_days=options.retention_days,
        max_future_skew_s=options.max_future_skew_s,
        reject_bots=options.reject_bots,
    )
    result = Accepted()
    candidates: list[int] = []
    for i, item in enumerate(items):
        if isinstance(item, _BadLine):
            result.rejections.append(
                Rejection(i, Reason.INVALID_JSON, "body", f"malformed JSON line: {item.error}")
            )
        elif not isinstance(item, dict):
            result.rejections.append(
                Rejection(i, Reason.NOT_AN_OBJECT, "body", "an event must be a JSON object")
            )
        else:
            candidates.append(i)
    events = _validate(items, candidates, ctx, result)
    now_ms = int(now.timestamp() * 1000)
    for i, event in events:
        line = _encode(event, now_ms, options)
        if len(line) > options.max_event_bytes:
            result.rejections.append(
                Rejection(
                    i,
                    Reason.TOO_LARGE,
                    "event",
                    f"event is {len(line)} bytes; the limit is {options.max_event_bytes}",
                )
            )
            continue
        result.lines.append(line)
        result.event_ids.append(event_id_of(line))
    result.rejections.sort(key=lambda r: r.index)
    return result


def _validate(
    items: list[Any], candidates: list[int], ctx: ValidationContext, result: Accepted
) -> list[tuple[int, Event]]:
    # One pass over the whole batch in pydantic-core; only when some fail, a second pass
    # over the survivors (the usual batch is all valid, so it is validated once).
    pending = candidates
    for _ in range(2):
        try:
            events = _EVENTS.validate_python([items[i] for i in pending], context=ctx)
        except ValidationError as exc:
            failed: dict[int, Rejection] = {}
            for err in exc.errors(include_url=False):
                pos = int(err["loc"][0])
                if pos in failed:
                    continue
                index = pending[pos]
                ctx_field = (err.get("ctx") or {}).get("field")
                if not isinstance(ctx_field, str):
                    ctx_field = None
                field_name = ctx_field or ".".join(str(p) for p in err["loc"][1:]) or "event"
                reason = _REASONS.get(err["type"]) or _PYDANTIC_REASONS.get(
                    err["type"], Reason.INVALID_FIELD
                )
                failed[pos] = Rejection(index, reason, field_name, err["msg"])
            result.rejections.extend(failed.values())
            pending = [idx for pos, idx in enumerate(pending) if pos not in failed]
            continue
        return list(zip(pending, events, strict=True))
    return []


def _encode(event: Event, now_ms: int, options: AcceptOptions) -> bytes:
    created = event.created_at
    return orjson.dumps(
        {
            "event_id": event.event_id or uuid.uuid4(),  # orjson writes a UUID canonically
            "event_type": event.event_type,
            "entity_type": event.entity_type or "",
            "entity_id": event.entity_id,
            "user_id": event.user_id,
            "session_id": event.session_id,
            "country": event.country or "",
            "category": event.category or "",
            "event_metadata": event.event_metadata or "",
            "ip_address": anonymize_ip(event.ip_address, options),
            "user_agent": event.user_agent or "",
            "referrer": event.referrer or "",
            # Epoch milliseconds: exact, compact, and parsed without ambiguity by the store.
            "created_at": int(created.timestamp() * 1000) if created else now_ms,
        }
    )


def event_id_of(line: bytes) -> str:
    """The event_id of an encoded event (always its first key, a 36-character UUID)."""
    return line[13:49].decode()


def anonymize_ip(ip: str | None, options: AcceptOptions) -> str:
    """Apply the configured IP anonymisation (SPEC §2) before anything is stored."""
    if not ip:
        return ""
    if options.ip_anonymization == "truncate":
        is_v4 = ":" not in ip
        net = (
            IPv4Network(f"{ip}/24", strict=False)
            if is_v4
            else IPv6Network(f"{ip}/48", strict=False)
        )
        return str(net.network_address)
    if options.ip_anonymization == "hash":
        digest = hashlib.sha256(f"{options.ip_hash_salt}|{ip}".encode()).hexdigest()
        return f"h:{digest[:32]}"
    return str(ip)
