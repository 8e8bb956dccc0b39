"""The event schema of SPEC §2 and its typed rejection reasons."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from ipaddress import ip_address
from typing import Annotated, Any, Final
from uuid import UUID

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tally.events.countries import ISO_3166_ALPHA2


class Reason(StrEnum):
    """Why an event (or a whole request) was rejected; counted in metrics."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_FIELD = "invalid_field"
    INVALID_COUNTRY = "invalid_country"
    TOO_LARGE = "too_large"
    BOT_USER_AGENT = "bot_user_agent"
    FUTURE_TIMESTAMP = "future_timestamp"
    EXPIRED_TIMESTAMP = "expired_timestamp"


# Columns of the store, in insert order; an encoded event has exactly these keys.
COLUMNS: Final[tuple[str, ...]] = (
    "event_id",
    "event_type",
    "entity_type",
    "entity_id",
    "user_id",
    "session_id",
    "country",
    "category",
    "event_metadata",
    "ip_address",
    "user_agent",
    "referrer",
    "created_at",
)

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
_BOT_UA = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|scrapy|curl/|wget/|python-requests|python-urllib|"
    r"go-http-client|httpclient|headlesschrome|phantomjs|facebookexternalhit|lighthouse",
    re.IGNORECASE,
)
MAX_METADATA_BYTES: Final = 16_384


@lru_cache(maxsize=8192)
def is_bot_user_agent(user_agent: str) -> bool:
    """True when the user agent names a crawler, a bot or a scripting client."""
    # Cached: real traffic repeats a few thousand user agents over and over.
    return _BOT_UA.search(user_agent) is not None


def normalize_ip(value: str) -> str | None:
    """The canonical text of an IPv4 or IPv6 address, or None when it is not one."""
    try:
        socket.inet_pton(socket.AF_INET, value)  # C fast path for the common case
    except OSError:
        try:
            return str(ip_address(value))
        except ValueError:
            return None
    return value


class ValidationContext:
    """What validation needs to know of the moment and the deployment."""

    __slots__ = ("max_future", "now", "oldest", "reject_bots")

    def __init__(
        self, *, now: datetime, retention_days: int, max_future_skew_s: int, reject_bots: bool
    ) -> None:
        self.now = now
        self.oldest = now - timedelta(days=retention_days)
        self.max_future = now + timedelta(seconds=max_future_skew_s)
        self.reject_bots = reject_bots


def _fail(reason: Reason, field: str, message: str) -> PydanticCustomError:
    # The field travels in the error context: model-level checks have no location of their own.
    return PydanticCustomError(reason.value, message, {"field": field})


def _country(value: str) -> str:
    if value and value not in ISO_3166_ALPHA2:
        raise _fail(
            Reason.INVALID_COUNTRY, "country", f"country {value!r} is not an ISO-3166 alpha-2 code"
        )
    return value


def _ip(value: str) -> str:
    ip = normalize_ip(value)
    if ip is None:
        raise _fail(
            Reason.INVALID_FIELD,
            "ip_address",
            f"ip_address {value!r} is not an IPv4 or IPv6 address",
        )
    return ip


def _user_agent(value: str, info: ValidationInfo) -> str:
    ctx: ValidationContext | None = info.context
    if value and (ctx is None or ctx.reject_bots) and is_bot_user_agent(value):
        raise _fail(Reason.BOT_USER_AGENT, "user_agent", "user_agent looks like a bot")
    return value


def _created_at(value: datetime, info: ValidationInfo) -> datetime:
    return _check_time(value, info.context)


def _metadata_json(value: dict[str, Any] | str) -> str:
    """The metadata as compact JSON text; a JSON string is parsed first (seed 004)."""
    if isinstance(value, str):
        _check_metadata_size(value)
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise _fail(
                Reason.INVALID_FIELD, "event_metadata", f"event_metadata is not JSON: {exc}"
            ) from None
        if not isinstance(value, dict):
            raise _fail(Reason.INVALID_FIELD, "event_metadata", "event_metadata must be an object")
    if not value:
        return ""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:  # e.g. an integer past 64 bits
        raise _fail(
            Reason.INVALID_FIELD, "event_metadata", f"event_metadata cannot be stored: {exc}"
        ) from None
    _check_metadata_size(text)
    return text


def _check_metadata_size(text: str) -> None:
    # Checked on the text as sent (before parsing it) and as stored (compact JSON).
    if len(text) > MAX_METADATA_BYTES:
        raise _fail(
            Reason.TOO_LARGE,
            "event_metadata",
            f"event_metadata is larger than {MAX_METADATA_BYTES} bytes",
        )


# Every rule pydantic-core can express is declared here and runs in Rust; the few Python
# checks are per field and never assign to the model: ingest validates tens of thousands of
# events a second per core, and each Python call and attribute write costs (bench/ingest.py).
# Ids often arrive as numbers from client apps; they are stored as their decimal text.
# Ids may come as numbers (seed 004's integer user ids): stored as their text. The schema says
# so, or a client sending one would seem to break the documented contract.
Ident = Annotated[
    str,
    Field(max_length=256, coerce_numbers_to_str=True),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 256}, {"type": "number"}]}),
]
Text64 = Annotated[str, Field(max_length=64)] | None


class Event(BaseModel):
    """One analytics event as accepted by Tally (SPEC §2); None text is stored as ''."""

    model_config = ConfigDict(extra="forbid")

    event_id: UUID | None = None
    event_type: str = Field(min_length=1, max_length=64, pattern=_NAME)
    entity_type: Text64 = ""
    entity_id: Ident = ""
    user_id: Ident = ""
    session_id: Ident = ""
    country: (
        Annotated[str, StringConstraints(max_length=2, to_upper=True), AfterValidator(_country)]
        | None
    ) = ""
    category: Text64 = ""
    event_metadata: Annotated[dict[str, Any] | str, AfterValidator(_metadata_json)] | None = None
    ip_address: Annotated[str, Field(max_length=64), AfterValidator(_ip)] | None = None
    user_agent: Annotated[str, Field(max_length=1024), AfterValidator(_user_agent)] | None = ""
    referrer: Annotated[str, Field(max_length=2048)] | None = ""
    created_at: Annotated[datetime, AfterValidator(_created_at)] | None = None

    @model_validator(mode="after")
    def _pairs(self) -> Event:
        if bool(self.entity_type) != bool(self.entity_id):
            raise _fail(
                Reason.INVALID_FIELD,
                "entity_id",
                "entity_type and entity_id go together: give both or neither",
            )
        return self


def _check_time(value: datetime, ctx: ValidationContext | None) -> datetime:
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset is before datetime's range in UTC
        raise _fail(Reason.INVALID_FIELD, "created_at", "created_at is out of range") from None
    if ctx is not None:
        if value > ctx.max_future:
            raise _fail(
                Reason.FUTURE_TIMESTAMP,
                "created_at",
                f"created_at {value.isoformat()} is in the future beyond the allowed clock skew",
            )
        if value < ctx.oldest:
            raise _fail(
                Reason.EXPIRED_TIMESTAMP,
                "created_at",
                f"created_at {value.isoformat()} is older than the retention period",
            )
    return value
