"""Tally errors as HTTP responses: one translation, at the edge."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tally.errors import (
    Conflict,
    JobError,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    TallyError,
    UnavailableError,
    ValidationFailed,
)

# Routes that answer like the systems they replace (seeds 002 and 003, both FastAPI apps).
SEED_STYLE_PREFIXES = ("/api/v1/arq/", "/api/jobs/")


def install(app: FastAPI) -> None:
    """Register handlers that turn Tally errors into clear JSON errors."""

    @app.exception_handler(TallyError)
    async def tally_error(request: Request, exc: TallyError) -> JSONResponse:
        seed_style = request.url.path.startswith(SEED_STYLE_PREFIXES)
        if seed_style and type(exc) is ValidationFailed:
            # A payload that fails Tally's checks reads like FastAPI's own 422 there too.
            loc = ["body", *(exc.field.split(".") if exc.field else [])]
            detail = [{"loc": loc, "msg": exc.message, "type": exc.reason}]
            return JSONResponse(status_code=422, content={"detail": detail})
        return tally_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        if request.url.path.startswith(SEED_STYLE_PREFIXES):
            # The replaced systems' callers read FastAPI's own shape: {"detail": [...]}.
            detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                      for e in exc.errors()]  # fmt: skip
            return JSONResponse(status_code=422, content={"detail": detail})
        # The first problem, in the same shape as every other error: the field and why.
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":  # the same answer /api/v1/events gives
            where = first.get("ctx", {}).get("error", "JSON decode error")
            return _error(422, "invalid_json", f"body is not valid JSON: {where}", field="body")
        loc = [str(part) for part in first.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path"):  # where it came from, not a field
            loc = loc[1:]
        field = ".".join(loc) or "body"
        message = f"{field}: {first.get('msg', 'invalid')}"
        return _error(422, "invalid_field", message, field=field)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's only 400: a JSON body it cannot parse. Same answer as /events gives.
            return _error(422, "invalid_json", f"body: {exc.detail}", field="body")
        reason = _REASONS.get(exc.status_code, "http_error")
        return _error(exc.status_code, reason, str(exc.detail), headers=dict(exc.headers or {}))


_REASONS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def _error(
    status: int,
    reason: str,
    message: str,
    *,
    field: str | None = None,
    service: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    detail: dict[str, object] = {"reason": reason}
    if field is not None:
        detail["field"] = field
    if service is not None:
        detail["service"] = service
    detail["message"] = message
    return JSONResponse(status_code=status, content={"error": detail}, headers=headers)


def tally_response(exc: TallyError) -> JSONResponse:
    """The HTTP answer for one of Tally's errors: its status, reason and message."""
    if isinstance(exc, PayloadTooLarge):
        return _error(413, exc.reason, exc.message, field=exc.field)
    if isinstance(exc, ValidationFailed):
        return _error(422, exc.reason, exc.message, field=exc.field)
    if isinstance(exc, RateLimited):
        return _error(
            429,
            "rate_limited",
            str(exc),
            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))},
        )
    if isinstance(exc, NotFound):
        return _error(404, "not_found", str(exc))
    if isinstance(exc, Conflict):
        body = {"error": {"reason": "conflict", "message": str(exc), "status": exc.status}}
        return JSONResponse(status_code=409, content=body)
    if isinstance(exc, UnavailableError):
        return _error(
            503,
            exc.reason,
            f"{exc.service} is unavailable: {exc.message}",
            service=exc.service,
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    if isinstance(exc, JobTimeout):
        return _error(504, "job_timeout", str(exc))
    if isinstance(exc, JobError):
        return _error(502, "job_failed", str(exc))
    return _error(500, "internal", str(exc))
