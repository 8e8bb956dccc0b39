"""Who may see and change what on the dashboard: the API's tokens, kept in a cookie."""

from __future__ import annotations

from fastapi import Request

from tally.infra.tokens import token_ok

COOKIE = "tally_token"


def token_accepted(request: Request, token: str) -> bool:
    """True if `token` is one of the API's tokens (any token when none are configured)."""
    accepted: list[str] = request.app.state.api_tokens
    return not accepted or token_ok(token.strip(), accepted)


def can_change(request: Request) -> bool:
    """Abort, retry, flush, re-run: the same bearer tokens as the API's mutating routes."""
    return token_accepted(request, request.cookies.get(COOKIE, ""))


def can_read(request: Request) -> bool:
    """Read-only pages: with a token, or by anyone when TALLY_DASHBOARD_PUBLIC is set."""
    return bool(request.app.state.runtime.settings.dashboard.public) or can_change(request)
