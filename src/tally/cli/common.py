"""Shared CLI helpers: settings, logging, error reporting, tables."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
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


def setup_logging(level: str) -> None:
    """Readable logs on stderr."""
    logging.basicConfig(
        level=level.upper(),
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)],
        force=True,
    )


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
        table.add_row(str(key), "—" if value is None else str(value))
    return table


def print_banner(settings: Settings) -> None:
    """Say the mode loudly at start-up (SPEC §1)."""
    info = settings.describe()
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
