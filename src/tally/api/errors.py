"""Tally errors as HTTP responses: one translation, at the edge."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tally.errors import (
    JobError,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    TallyError,
    UnavailableError,
    ValidationFailed,
)


def install(app: FastAPI) -> None:
    """Register handlers that turn Tally errors into clear JSON errors."""

    @app.exception_handler(TallyError)
    async def tally_error(_: Request, exc: TallyError) -> JSONResponse:
        if isinstance(exc, PayloadTooLarge):
            return _error(413, exc.reason, exc.message, field=exc.field)
        if isinstance(exc, ValidationFailed):
            return _error(422, exc.reason, exc.message, field=exc.field)
        if isinstance(exc, NotFound):
            return _error(404, "not_found", str(exc))
        if isinstance(exc, UnavailableError):
            return _error(
                503,
                "unavailable",
                f"{exc.service} is unavailable: {exc.message}",
                headers={"Retry-After": "5"},
            )
        if isinstance(exc, JobTimeout):
            return _error(504, "job_timeout", str(exc))
        if isinstance(exc, JobError):
            return _error(502, "job_failed", str(exc))
        return _error(500, "internal", str(exc))


def _error(
    status: int,
    reason: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {"error": {"reason": reason, "message": message}}
    if field is not None:
        body["error"] = {"reason": reason, "field": field, "message": message}
    return JSONResponse(status_code=status, content=body, headers=headers)
