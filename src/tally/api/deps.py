"""What routes depend on: the runtime, and the authenticated caller (TALLY_API_TOKENS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from tally.dashboard.access import COOKIE, token_accepted
from tally.errors import ConfigError
from tally.infra.tokens import token_ok
from tally.ingest.ratelimit import ANONYMOUS, token_id
from tally.runtime.runtime import Runtime
from tally.settings import Mode, Settings


def get_runtime(request: Request) -> Runtime:
    """The process's runtime, set on the app when it was created."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def check_startup(settings: Settings) -> None:
    """Refuse to serve without tokens outside embedded (development) mode."""
    if settings.mode is not Mode.EMBEDDED and not settings.api.token_list():
        raise ConfigError(
            "TALLY_API_TOKENS is empty: set at least one bearer token (comma-separated) "
            "before serving the API in Redis mode; only embedded mode may run without auth"
        )


def require_token(request: Request) -> str:
    """A FastAPI dependency: 401 unless the request carries an accepted bearer token.

    Returns the caller's id for the rate limit (a hash of its token, never the token).
    """
    accepted = request.app.state.api_tokens
    request.state.client_id = ANONYMOUS
    if not accepted:
        return ANONYMOUS  # embedded development mode, allowed by check_startup
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)", _CHALLENGE)
    if not token_ok(given.strip(), accepted):
        raise HTTPException(401, "invalid bearer token", _CHALLENGE)
    request.state.client_id = token_id(given.strip())
    return str(request.state.client_id)


def require_token_to_read(request: Request) -> None:
    """Like `require_token`, unless TALLY_DASHBOARD_PUBLIC lets anyone read.

    For reads that show jobs' arguments and results: they can hold what Flower is
    password-locked for.
    """
    if request.app.state.runtime.settings.dashboard.public:
        return
    cookie = request.cookies.get(COOKIE)
    if cookie and token_accepted(request, cookie):
        return  # the dashboard's own pages polling a job, with the login cookie
    require_token(request)


_CHALLENGE = {"WWW-Authenticate": "Bearer"}
Authenticated = Depends(require_token)
ReadAuthenticated = Depends(require_token_to_read)
CallerDep = Annotated[str, Depends(require_token)]
