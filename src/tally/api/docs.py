"""Response models and per-status documentation, so /openapi.json says what the API answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _a_json_number(value: Any) -> Any:
    # pydantic's lax mode reads "5" and true as numbers; JSON Schema does not (8.0 is an
    # integer to both).
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number, not a string or a boolean")
    return value


# Put bounds before it (Annotated[float, Field(ge=0), JSON_NUMBER]): bounds after a
# validator reach the JSON Schema as unknown keywords instead of minimum/maximum.
JSON_NUMBER = BeforeValidator(_a_json_number)


class ErrorDetail(BaseModel):
    """Why a request failed: a machine-readable reason, the field at fault, a sentence."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(examples=["invalid_field"])
    message: str
    field: str | None = Field(default=None, examples=["as_of"])
    service: str | None = Field(
        default=None, examples=["redis"], description="the unavailable service, on a 503"
    )
    status: str | None = Field(default=None, description="the job's status, on a 409")


class ErrorBody(BaseModel):
    """Every error response of the API."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


class EventRejection(BaseModel):
    """One rejected event of an ingest request."""

    index: int = Field(ge=0, description="position in the request")
    reason: str = Field(examples=["invalid_country"])
    field: str
    message: str


class IngestResponse(BaseModel):
    """What an ingest request did: accepted events' ids and every rejection by index."""

    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    event_ids: list[str]
    errors: list[EventRejection]


_WHY: dict[int, str] = {
    401: "missing or invalid bearer token",
    404: "no such resource (yet)",
    409: "the request contradicts the resource's state",
    413: "body or batch past the size limits",
    422: "invalid input: the field and the reason are named",
    429: "past the token's rate limit; see Retry-After",
    502: "the job behind the request failed",
    503: "a backing service (Redis, store, broker) is unavailable; see Retry-After",
    504: "the job behind the request did not finish in time",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all with the ErrorBody shape."""
    return {code: {"model": ErrorBody, "description": _WHY[code]} for code in codes}


# Every route that reads Redis can answer 503, and every route with parameters 422.
COMMON = (422, 503)
