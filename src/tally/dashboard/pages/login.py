"""Log in with one of the API's tokens (kept in an HttpOnly cookie), and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from tally.dashboard.access import COOKIE, token_accepted
from tally.dashboard.pages.common import templates

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": next if next.startswith("/") else "/", "error": None}
    )


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    if not token_accepted(request, token):
        context = {"next": target, "error": "That token is not accepted."}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse(target, status_code=303)
    # HttpOnly: page scripts cannot read it; SameSite=Strict: other sites cannot post with it.
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=12 * 3600)
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
