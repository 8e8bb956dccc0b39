"""Alerts: rules with their state and last value, a history timeline, create/edit, mute, test."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from tally.alerts.rules import RuleIn
from tally.dashboard import charts
from tally.dashboard.access import can_change
from tally.dashboard.pages.common import act, back, page, rt, why
from tally.errors import TallyError
from tally.runtime.runtime import Runtime

router = APIRouter(include_in_schema=False)
TIMELINE_DAYS = 7

# The form's fields for `events` and `metric` rules; other kinds are written as JSON.
_SPEC_FIELDS = ("measure", "event_type", "country", "category", "entity", "group_by",
                "window_s", "condition", "bound", "windows", "direction", "metric", "queue",
                "task", "breaker")  # fmt: skip
_INTS = ("window_s", "windows")


def _spec_of(form: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": form.get("kind", "events")}
    for name in _SPEC_FIELDS:
        value = form.get(f"spec_{name}", "").strip()
        if value:
            spec[name] = int(value) if name in _INTS and value.isdigit() else value
    if "bound" in spec:
        with contextlib.suppress(ValueError):  # not a number: the model names the field and why
            spec["bound"] = float(spec["bound"])
    return spec


def rule_from_form(form: dict[str, str], channels: list[str]) -> RuleIn:
    """The rule a create/edit form describes (JSON when given, else the fields)."""
    raw = form.get("json", "").strip()
    if raw:
        return RuleIn.model_validate(orjson.loads(raw))
    every = form.get("every_s", "").strip()
    data: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "spec": _spec_of(form),
        "for": int(form.get("for", "1") or 1),
        "repeat_interval_s": int(form.get("repeat_interval_s", "14400") or 14400),
        "notify_resolved": form.get("notify_resolved") == "on",
        "severity": form.get("severity", "warning"),
        "channels": channels,
    }
    if every:
        data["every_s"] = int(every) if every.isdigit() else every
    if form.get("cron", "").strip():
        data["cron"] = form["cron"].strip()
    return RuleIn.model_validate(data)


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request) -> Response:
    service = rt(request).alerts
    try:
        rules = await run_in_threadpool(service.rules)
        channels = await run_in_threadpool(service.channels)
    except TallyError as exc:
        return page(request, "alerts", rules=[], channels=[], message=str(exc), form={})
    return page(request, "alerts", rules=rules, channels=channels, message=None, form={})


@router.get("/alerts/{rule_id}", response_class=HTMLResponse)
async def alert_page(request: Request, rule_id: int) -> Response:
    service = rt(request).alerts
    try:
        rule = await run_in_threadpool(service.rule, rule_id)
        since = time.time() - TIMELINE_DAYS * 86_400
        history = await run_in_threadpool(lambda: service.history(rule_id, limit=500))
        notes = await run_in_threadpool(lambda: service.notifications(rule_id, limit=50))
        channels = await run_in_threadpool(service.channels)
    except TallyError as exc:
        return page(request, "missing", status_code=404, what=str(exc))
    return page(request, "alert", rule=rule, history=history, notifications=notes,
                channels=channels, timeline=_timeline(rule, history, since),
                rule_json=orjson.dumps(_editable(rule), option=orjson.OPT_INDENT_2).decode(),
                preview=None)  # fmt: skip


def _editable(rule: dict[str, Any]) -> dict[str, Any]:
    keep = ("name", "spec", "every_s", "cron", "for", "repeat_interval_s", "notify_resolved",
            "severity", "labels", "channels", "templates", "enabled")  # fmt: skip
    return {k: rule[k] for k in keep if k in rule}


def _timeline(rule: dict[str, Any], history: list[dict[str, Any]], since: float) -> str:
    # A young rule is drawn from its creation, so its first changes are not a sliver.
    since = max(since, float(rule["created_at"]) - 1.0)
    per_group: dict[str, list[tuple[float, str]]] = {}
    for h in sorted(history, key=lambda h: h["at"]):
        changes = per_group.setdefault(h["group_key"], [])
        if not changes and h["at"] > since:
            changes.append((since, h["from_state"]))
        changes.append((h["at"], h["to_state"]))
    for g in rule["groups"]:
        per_group.setdefault(g["group"], [(since, g["state"])])
    rows = sorted(per_group.items())
    days = (time.time() - since) / 86_400
    seconds = days * 86_400
    span = (f"{days:.1f} days" if days >= 1 else f"{seconds / 60:.0f} minutes"
            if seconds >= 120 else f"{seconds:.0f} seconds")  # fmt: skip
    title = f"states over the last {span} (red: firing, amber: pending, green: ok)"
    return charts.timeline(rows, start=since, end=time.time(), title=title)


async def _form(request: Request) -> tuple[dict[str, str], list[str]]:
    data = await request.form()
    fields = {k: str(v) for k, v in data.items() if k != "channels"}
    return fields, [str(c) for c in data.getlist("channels")]


@router.post("/alerts/new")
async def create_rule(request: Request) -> Response:
    if not can_change(request):
        return RedirectResponse("/login", status_code=303)
    fields, chosen = await _form(request)
    service = rt(request).alerts
    try:
        definition = rule_from_form(fields, chosen)
        saved = await run_in_threadpool(service.create_rule, definition)
    except (ValidationError, TallyError, orjson.JSONDecodeError, ValueError) as exc:
        rules = await run_in_threadpool(service.rules)
        channels = await run_in_threadpool(service.channels)
        return page(request, "alerts", status_code=422, rules=rules, channels=channels,
                    message=why(exc), form=fields)  # fmt: skip
    return back(f"/alerts/{saved['id']}", f"rule {saved['name']} created")


@router.post("/alerts/{rule_id}/edit")
async def edit_rule(request: Request, rule_id: int) -> Response:
    if not can_change(request):
        return RedirectResponse("/login", status_code=303)
    fields, _ = await _form(request)
    service = rt(request).alerts
    try:
        definition = RuleIn.model_validate(orjson.loads(fields.get("json", "")))
        await run_in_threadpool(service.replace_rule, rule_id, definition)
    except (ValidationError, TallyError, orjson.JSONDecodeError) as exc:
        return back(f"/alerts/{rule_id}", f"not saved: {why(exc)}")
    return back(f"/alerts/{rule_id}", "rule saved")


@router.post("/alerts/{rule_id}/mute")
def mute_rule(request: Request, rule_id: int, hours: Annotated[float, Form()] = 0) -> Response:
    def change(r: Runtime) -> tuple[str, str]:
        until = datetime.now(UTC) + timedelta(hours=hours) if hours > 0 else None
        r.alerts.mute(rule_id, until)
        return f"/alerts/{rule_id}", f"muted for {hours:g} h" if until else "unmuted"

    return act(request, f"/alerts/{rule_id}", change)


@router.post("/alerts/{rule_id}/test")
def test_rule(request: Request, rule_id: int) -> Response:
    def change(r: Runtime) -> tuple[str, str]:
        outcomes = r.alerts.test(rule_id)
        said = ", ".join(f"{o['outcome']}" + (f" ({o['error']})" if o["error"] else "")
                         for o in outcomes)  # fmt: skip
        return f"/alerts/{rule_id}", f"test notification: {said}"

    return act(request, f"/alerts/{rule_id}", change)


@router.post("/alerts/{rule_id}/delete")
def delete_rule(request: Request, rule_id: int) -> Response:
    def change(r: Runtime) -> tuple[str, str]:
        r.alerts.delete_rule(rule_id)
        return "/alerts", "rule deleted"

    return act(request, f"/alerts/{rule_id}", change)


@router.post("/alerts/{rule_id}/preview", response_class=HTMLResponse)
async def preview_rule(request: Request, rule_id: int, days: Annotated[float, Form()] = 7
                       ) -> Response:  # fmt: skip
    if not can_change(request):
        return RedirectResponse("/login", status_code=303)
    service = rt(request).alerts
    try:
        result = await run_in_threadpool(service.preview, rule_id, days)
    except TallyError as exc:
        return back(f"/alerts/{rule_id}", f"preview failed: {exc}")
    rule = await run_in_threadpool(service.rule, rule_id)
    history = await run_in_threadpool(lambda: service.history(rule_id, limit=500))
    notes = await run_in_threadpool(lambda: service.notifications(rule_id, limit=50))
    since = time.time() - TIMELINE_DAYS * 86_400
    return page(request, "alert", rule=rule, history=history, notifications=notes,
                channels=await run_in_threadpool(service.channels),
                timeline=_timeline(rule, history, since),
                rule_json=orjson.dumps(_editable(rule), option=orjson.OPT_INDENT_2).decode(),
                preview=result)  # fmt: skip
