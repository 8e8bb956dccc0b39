"""`tally text analyze FILE` (SPEC §14): JSON lines in, JSON lines out, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tally.cli.common import fail
from tally.text.pipeline import analyse_all, comments_of, summary

text_app = typer.Typer(help="Text jobs: lemmas, parts of speech, keywords (SPEC §14).",
                       no_args_is_help=True)  # fmt: skip
err = Console(stderr=True)


def _read(source: str) -> list[Any]:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        fail(f"{source}: {exc.strerror}")
    items = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            fail(f"{source}:{n}: not JSON: {exc}")
        if not isinstance(item, str) and not (isinstance(item, dict) and "text" in item):
            fail(f'{source}:{n}: a line is a JSON string or an object with "text"')
        items.append(item)
    return items


@text_app.command("analyze")
def analyze(
    source: Annotated[
        str, typer.Argument(help='JSON lines: strings or {"id", "text"} (- for stdin)')
    ],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="default: stdout")] = None,
    top: Annotated[int, typer.Option(min=1, max=100, help="keywords per comment")] = 10,
) -> None:
    """Analyse comments here: language, lemmas with parts of speech, keywords, counts."""
    comments = comments_of(_read(source))
    with Progress(TextColumn("[bold]text"), BarColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=err) as progress:  # fmt: skip
        bar = progress.add_task("reading", total=100)

        def show(pct: float, message: str) -> None:
            progress.update(bar, completed=pct, description=message)

        analysed = analyse_all(comments, top=top, progress=show)
        progress.update(bar, completed=100, description=f"{len(comments)} comments")
    lines = b"".join(orjson.dumps(a.as_dict()) + b"\n" for a in analysed)
    if output is None:
        sys.stdout.buffer.write(lines)
        sys.stdout.flush()
    else:
        output.write_bytes(lines)
    found = summary(analysed, 5)
    top_words = ", ".join(k["keyword"] for k in found["keywords"])
    err.print(f"{found['comments']} comments, {found['words']} words, {found['languages']}; "
              f"keywords: {top_words or '—'}")  # fmt: skip
