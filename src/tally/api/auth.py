"""Bearer-token auth on mutating endpoints (TALLY_API_TOKENS)."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from tally.buffer.ratelimit import ANONYMOUS, token_id
from tally.errors import ConfigError
from tally.settings import Mode, Settings
from tally.tokens import token_ok


def check_startup(settings: Settings) -> None:
    """Refuse to serve without tokens outside embedded (development) mode."""
    if settings.mode is not Mode.EMBEDDED and not settings.api_token_list():
        raise ConfigError(
            "TALLY_API_TOKENS is empty: set at least one bearer token (comma-separated) "
            "before serving the API in Redis mode; only embedded mode may run without auth"
        )


def require_token(request: Request) -> None:
    """A FastAPI dependency: 401 unless the request carries an accepted bearer token."""
    accepted = request.app.state.api_tokens
    request.state.client_id = ANONYMOUS
    if not accepted:
        return  # embedded development mode, allowed by check_startup
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)", _CHALLENGE)
    if not token_ok(given.strip(), accepted):
        raise HTTPException(401, "invalid bearer token", _CHALLENGE)
    request.state.client_id = token_id(given.strip())


_CHALLENGE = {"WWW-Authenticate": "Bearer"}
Authenticated = Depends(require_token)
