"""What the deployment files run, checked against Tally's own CLI and settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main
from pydantic import AliasChoices

from tally.cli.main import app
from tally.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
_CLI = typer.main.get_command(app)


def parse_tally(args: list[str]) -> tuple[str, dict[str, Any]]:
    """The `tally` subcommand these arguments run and its parsed options (raises if invalid)."""
    command: Any = _CLI
    ctx = command.make_context("tally", list(args))
    path = []
    while hasattr(command, "resolve_command"):  # a group: descend into its subcommand
        name, command, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        path.append(name)
        ctx = command.make_context(name, rest, parent=ctx)
    return " ".join(path), dict(ctx.params)


def settings_names() -> set[str]:
    """Every environment variable Tally's settings read."""
    names: set[str] = set()
    for section in Settings.model_fields.values():
        kind: Any = section.annotation
        for field in getattr(kind, "model_fields", {}).values():
            alias = field.validation_alias
            if isinstance(alias, str):
                names.add(alias)
            elif isinstance(alias, AliasChoices):
                names.update(c for c in alias.choices if isinstance(c, str))
    return names


# Read by Tally outside the settings (CLI options' envvars, Python itself).
OTHER_NAMES = {"TALLY_URL", "TALLY_METRICS_PORT", "TALLY_METRICS_HOST", "PYTHONUNBUFFERED", "PATH"}

_REFERENCE = re.compile(r"\$\{(\w+)(:?[-?])?([^}]*)\}")


def references(text: str) -> list[tuple[str, str]]:
    """`${NAME…}` interpolations in a compose value: (name, operator) pairs."""
    return [(m.group(1), m.group(2) or "") for m in _REFERENCE.finditer(text)]


def filled(value: str) -> str:
    """A compose value as compose fills it: defaults kept, required ones as `x-NAME`."""
    return _REFERENCE.sub(
        lambda m: m.group(3) if (m.group(2) or "").endswith("-") else f"x-{m.group(1)}", value
    )
