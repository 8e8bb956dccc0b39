"""What every dashboard page shares: templates, access, flash messages, changes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import REGISTRY
from pydantic import ValidationError

from tally.dashboard.access import can_change, can_read
from tally.dashboard.history import Sample
from tally.errors import TallyError
from tally.runtime.runtime import Runtime

templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))


def _timestamp(at: float) -> str:
    """Epoch seconds as `YYYY-MM-DD HH:MM:SS` UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


templates.env.filters["timestamp"] = _timestamp


def rt(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    if not can_read(request):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    changer = can_change(request)
    # "Log out" only for someone who logged in (not with auth off, nor reading a public page)
    logged_in = changer and bool(request.app.state.api_tokens)
    context |= {"can_change": changer, "page": name, "logged_in": logged_in}
    return templates.TemplateResponse(request, f"{name}.html", context, status_code=status_code)


def why(exc: Exception) -> str:
    """A refused form's reason: the field and the message (a rule's `…Spec` tags left out)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not str(p).endswith("Spec")) or "form"
        return f"{where}: {first['msg']}"
    if isinstance(exc, orjson.JSONDecodeError):
        return f"json: not JSON: {exc}"
    return str(exc)


def back(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?flash={quote(message)}", status_code=303)


def act(request: Request, where: str, change: Callable[[Runtime], tuple[str, str]]) -> Response:
    """Make a change for a logged-in user; go to the page it names, saying what happened."""
    if not can_change(request):
        return RedirectResponse("/login", status_code=303)
    try:
        target, message = change(rt(request))
    except TallyError as exc:
        return back(where, str(exc))  # the refusal, shown where the user was
    return back(target, message)


def read_sample(runtime: Runtime) -> Sample:
    """The overview's figures now (for the last-hour charts)."""
    queues = runtime.inspector.queues()
    accepted = REGISTRY.get_sample_value("tally_events_accepted_total") or 0.0
    return Sample(
        at=time.time(),
        waiting_jobs=sum(q["pending"] + q["scheduled"] for q in queues),
        running_jobs=sum(q["running"] for q in queues),
        buffered_events=int(runtime.events.buffer_info()["events"]),
        accepted_events=accepted,
        finished_jobs=sum(q["succeeded_24h"] + q["failed_24h"] for q in queues),
    )
