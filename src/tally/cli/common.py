"""Shared CLI helpers: settings, logging, error reporting, tables."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

import orjson
import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from tally.errors import TallyError
from tally.settings import Settings

console = Console()
err_console = Console(stderr=True)


def load_settings() -> Settings:
    """Settings from the environment and `.env`; a bad value is a clear error, not a trace."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        fail("invalid configuration:\n" + "\n".join(lines))
    except SettingsError as exc:  # a JSON setting that does not parse
        fail(f"invalid configuration: {_env_name(str(exc))} is not valid JSON")


def _env_name(message: str) -> str:
    """The environment name behind pydantic-settings' 'error parsing value for field "x"'."""
    match = re.search(r'field "(\w+)"', message)
    if match is None:
        return "a setting"
    for section in Settings.model_fields.values():
        kind: Any = section.annotation
        field = getattr(kind, "model_fields", {}).get(match.group(1))
        if field is not None and isinstance(field.validation_alias, str):
            return field.validation_alias
    return match.group(1)


# Attributes every LogRecord has; the rest came from `extra=` and go into JSON lines.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def setup_logging(level: str, fmt: str = "auto") -> None:
    """Logs on stderr: rich on a terminal, else one line per record (plain text or JSON)."""
    if fmt == "auto":
        fmt = "rich" if sys.stderr.isatty() else "text"
    handler: logging.Handler
    if fmt == "rich":
        handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            JsonFormatter()
            if fmt == "json"
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.captureWarnings(True)  # noqa: FBT003 - the stdlib's signature; library warnings become records in the same format
    # httpx logs each request's URL at INFO (httpcore its parts at DEBUG): a webhook's URL is
    # a secret (a Slack URL is its own credential), so their records stay out at any level.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def when(at: float | None) -> str:
    """Epoch seconds as `YYYY-MM-DD HH:MM:SS` (UTC), or — when unset."""
    return "—" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn Tally errors into a one-line message and exit code 1."""
    try:
        yield
    except TallyError as exc:
        fail(str(exc))


def kv_table(title: str, rows: dict[str, Any]) -> Table:
    """A two-column table of a mapping."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold cyan")
    table.add_column()
    for key, value in rows.items():
        table.add_row(str(key), show(value))
    return table


def show(value: Any) -> str:
    """A value for a table cell: mappings and lists as `k: v` lines, not Python reprs."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        return "\n".join(f"{k}: {show(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value) or "—"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_banner(settings: Settings) -> None:
    """Say the mode loudly at start-up (SPEC §1); one JSON record when logs are JSON."""
    info = settings.describe()
    if settings.log.format == "json":
        logging.getLogger("tally").info(
            "Tally in %s mode", info["mode"], extra={"event": "start", **info}
        )
        return
    colour = "yellow" if info["mode"] == "embedded" else "green"
    err_console.rule(f"[bold {colour}]Tally — {info['mode'].upper()} MODE")
    for key, value in info.items():
        err_console.print(f"  [bold]{key}[/]: {value}")
    if info["mode"] == "embedded":
        err_console.print(
            "  [yellow]No REDIS_URL: jobs, buffer and cache live in this process; nothing is "
            "distributed, and queued jobs and buffered events are lost on restart.[/]"
        )
    err_console.rule()
    sys.stderr.flush()
