"""One command's runtime: embedded, this process owns the store meanwhile; else a client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from tally.cli.common import friendly_errors, load_settings, setup_logging
from tally.runtime.runtime import Runtime, embedded_runtime, stop_embedded
from tally.settings import Mode, Settings

Timeout = Annotated[float, typer.Option("--timeout", help="seconds to wait for the job")]


def open_runtime(settings: Settings) -> Runtime:
    """The runtime a one-shot command uses; embedded: this process owns the store meanwhile."""
    if settings.mode is Mode.EMBEDDED:
        return embedded_runtime(settings)
    return Runtime(settings, run_tasks=False)


def close_runtime(runtime: Runtime) -> None:
    """Stop what `open_runtime` started."""
    if runtime.mode is Mode.EMBEDDED:
        stop_embedded()
    else:
        runtime.stop()


@contextmanager
def session() -> Iterator[Runtime]:
    """One command's runtime, with quiet logs; Tally errors end it with a clear message."""
    settings = load_settings()
    setup_logging("WARNING")
    with friendly_errors():
        runtime = open_runtime(settings)
        try:
            yield runtime
        finally:
            close_runtime(runtime)
