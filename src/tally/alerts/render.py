"""What a notification says: its context, the subject and body, and each channel's format.

The webhook payload (documented in the README) is the context plus `subject` and `text`.
Templates are Jinja2 in a sandbox: a rule's author cannot reach Python through them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from tally.errors import ValidationFailed

_ENV = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ICON = {"firing": "🔴", "repeat": "🔁", "resolved": "✅", "error": "⚠️", "test": "🧪"}
_VERB = {
    "firing": "is firing",
    "repeat": "is still firing",
    "resolved": "resolved",
    "error": "cannot be evaluated",
    "test": "test notification",
}


def check_template(text: str | None, field: str) -> None:
    """ValidationFailed naming `field` when the template does not compile."""
    if text is None:
        return
    try:
        _ENV.from_string(text)
    except TemplateError as exc:
        raise ValidationFailed(
            field, "invalid_template", f"template does not compile: {exc}"
        ) from None


def iso(at: float) -> str:
    """An epoch time as ISO 8601 UTC."""
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def number(value: float | None) -> str:
    """A value as a person reads it (None: not a finite number)."""
    if value is None:
        return "∞"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def context(
    *,
    notification_id: str,
    kind: str,
    rule: dict[str, Any],
    group: str,
    state: str,
    previous_state: str,
    value: float | None,
    bound: float | None,
    note: str,
    at: float,
    url: str,
) -> dict[str, Any]:
    """Everything a template or receiver may use (the webhook payload's fields)."""
    return {
        "notification_id": notification_id,
        "kind": kind,
        "test": kind == "test",
        "rule": rule,
        "group": group,
        "state": state,
        "previous_state": previous_state,
        "value": value,
        "bound": bound,
        "note": note,
        "at": iso(at),
        "url": url,
    }


def _default_subject(c: dict[str, Any]) -> str:
    where = f" ({c['group']})" if c["group"] else ""
    prefix = "[TEST] " if c["test"] else ""
    return f"{prefix}[{c['rule']['severity']}] {c['rule']['name']}{where} {_VERB[c['kind']]}"


def _default_body(c: dict[str, Any]) -> str:
    lines = [_default_subject(c), ""]
    if c["test"]:
        lines.append("This is a test notification: nothing fired.")
    lines += [
        f"value: {number(c['value'])}",
        f"bound: {number(c['bound'])} ({c['rule'].get('condition', c['rule']['kind'])})",
    ]
    if c["note"]:
        lines.append(f"seen: {c['note']}")
    lines += [f"state: {c['previous_state']} → {c['state']}", f"at: {c['at']}", "", c["url"]]
    return "\n".join(lines)


def subject_and_text(c: dict[str, Any], templates: dict[str, Any]) -> tuple[str, str]:
    """The subject and body: the rule's templates, or Tally's wording."""
    subject, body = _default_subject(c), _default_body(c)
    try:
        if templates.get("subject"):
            subject = _ENV.from_string(templates["subject"]).render(**c).strip()
        if templates.get("body"):
            body = _ENV.from_string(templates["body"]).render(**c)
    except TemplateError as exc:  # saved templates compile; a runtime error keeps the default
        body += f"\n\n(template error: {exc})"
    if c["test"] and not subject.startswith("[TEST]"):
        subject = f"[TEST] {subject}"
    return subject[:250], body


def webhook(c: dict[str, Any], subject: str, text: str) -> dict[str, Any]:
    """The webhook's JSON body."""
    return {**c, "subject": subject, "text": text}


def slack(c: dict[str, Any], subject: str) -> dict[str, Any]:
    """A Block Kit message: the rule, value, bound, group and a link to the dashboard."""
    fields = [
        ("Rule", c["rule"]["name"]),
        ("State", f"{c['previous_state']} → {c['state']}"),
        ("Value", number(c["value"])),
        ("Bound", number(c["bound"])),
        ("Group", c["group"] or "—"),
        ("Severity", c["rule"]["severity"]),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{_ICON[c['kind']]} {subject}"[:150]},
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
    ]
    if c["note"]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": c["note"][:2900]}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"<{c['url']}|Open in Tally> · {c['at']}"},
                {"type": "mrkdwn", "text": f"notification `{c['notification_id']}`"},
            ],
        }
    )
    return {"text": subject, "blocks": blocks}
