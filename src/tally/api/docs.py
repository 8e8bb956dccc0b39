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


def job_links(job_id: str) -> dict[str, str]:
    """Where to follow a job: its status and its result."""
    return {"status_url": f"/api/v1/jobs/{job_id}", "result_url": f"/api/v1/jobs/{job_id}/result"}


# --- typed answers (documented in /openapi.json; extra fields allowed as they grow) -------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class JobView(_Open):
    """A job (SPEC §5): what it is, where it is, and how it ended."""

    job_id: str
    task: str
    queue: str
    status: str = Field(examples=["running"], description="queued, running, retrying, "
                        "succeeded, failed or aborted")  # fmt: skip
    priority: int
    kwargs: dict[str, Any]
    progress: int | None
    progress_message: str | None
    attempts: int
    max_attempts: int
    result: Any = None
    error: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class JobsPage(_Open):
    """Recent jobs, latest change first."""

    jobs: list[JobView]
    count: int


class Enqueued(_Open):
    """A job accepted: its id and where to follow it."""

    job_id: str
    status: str
    status_url: str
    result_url: str


class QueueView(_Open):
    """One queue: waiting, held for an eta, running, finished in 24 h, and its consumers."""

    name: str
    pending: int
    scheduled: int
    running: int
    succeeded_24h: int
    failed_24h: int
    aborted_24h: int
    workers: list[str]


class QueuesPage(_Open):
    queues: list[QueueView]


class BufferView(_Open):
    """Events waiting in the buffer."""

    events: int
    oldest_age_s: float | None
    batch_size: int
    flush_interval_s: float
    backend: str


class RankedRow(_Open):
    """One entity in a group's ranking (trending rows add recent, expected, growth, ...)."""

    rank: int
    entity_type: str
    entity_id: str
    events: int


class AnalyticsResults(_Open):
    """A result set: per group, its ranked entities (seed 000's payload, narrowed)."""

    as_of: str
    generated_at: str
    window_hours: int
    groups: dict[str, list[RankedRow]]
    metric: str
    by: str


class AnalyticsMetadata(_Open):
    """The last run (seed 000's `comprehensive_analytics_metadata`)."""

    last_analysis: str | None
    as_of: str | None
    events_scanned: int
    duration_ms: float | None
    parameters: dict[str, Any] | None
    status: str


class HealthView(_Open):
    """Every part's check; `problems` says why when the status is degraded."""

    status: str = Field(examples=["ok"], description="ok or degraded")
    mode: str
    problems: list[str]


EVENT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"$ref": "#/components/schemas/Event"},
        {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
    ]
}
