"""Report templates (title, filename, email subject and body) in Jinja2's sandbox."""

from __future__ import annotations

import re
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from tally.errors import ValidationFailed

_ENV = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
# What every template may use (the check renders with these, so a typo fails at save time).
SAMPLE: dict[str, Any] = {
    "name": "report", "slug": "report", "title": "Report", "source": "events", "format": "csv",
    "generated_at": "2026-01-01T00:00:00Z", "slot": None, "rows": 0, "filename": "report.csv",
    "run_id": "00000000-0000-0000-0000-000000000000", "download_url": "http://localhost/",
    "size_bytes": 0, "parameters": {},
}  # fmt: skip


def check(text: str | None, field: str) -> None:
    """ValidationFailed naming `field` unless the template compiles and renders."""
    if text is None:
        return
    try:
        _ENV.from_string(text).render(**SAMPLE)
    except TemplateError as exc:
        raise ValidationFailed(field, "invalid_template", f"template error: {exc}") from None


def render(text: str, ctx: dict[str, Any]) -> str:
    """The template rendered; a runtime error gives the template's own text (still useful)."""
    try:
        return _ENV.from_string(text).render(**ctx).strip()
    except TemplateError:
        return text


def slug(name: str) -> str:
    """A name as a file name part: letters, digits, `-` and `_`."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "report"


def filename(stem: str) -> str:
    """A rendered filename template made safe: no folders, nothing hidden."""
    cleaned = re.sub(r"[^A-Za-z0-9_.@+-]+", "-", stem).strip("-.")
    return cleaned[:150] or "report"
