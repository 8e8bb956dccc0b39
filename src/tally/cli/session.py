"""One command's runtime: a running Tally's API when there is one to use, else its own.

`--url` / `TALLY_URL` names the API; beside a local `tally dev` (which owns the embedded
store) it is found in the data directory. Otherwise, embedded, this process owns the store
for the command's duration; in Redis mode it is a client of the deployment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from tally.cli.common import fail, friendly_errors, load_settings, setup_logging
from tally.cli.remote import RemoteRuntime, local_server
from tally.errors import StoreLocked
from tally.runtime.runtime import Runtime, embedded_runtime, stop_embedded
from tally.settings import Mode, Settings

Timeout = Annotated[float, typer.Option("--timeout", help="seconds to wait for the job")]
Session = Runtime | RemoteRuntime

# Set by the `--url` option of `tally` (cli.main); TALLY_URL otherwise.
api_url: str | None = None


def _token(settings: Settings) -> str | None:
    tokens = settings.api.token_list()
    return os.environ.get("TALLY_TOKEN") or (tokens[0] if tokens else None)


def open_runtime(settings: Settings) -> Session:
    """The runtime a one-shot command uses."""
    url = api_url or os.environ.get("TALLY_URL")
    if url is None and settings.mode is Mode.EMBEDDED:
        url = local_server(settings)  # a `tally dev` owns the store: ask it
    if url:
        return RemoteRuntime(settings, url, _token(settings))
    if settings.mode is Mode.EMBEDDED:
        try:
            return embedded_runtime(settings)
        except StoreLocked as exc:
            fail(
                f"{exc.message}. If a `tally dev` runs, point the CLI at it: --url http://HOST:PORT"
            )
    return Runtime(settings, run_tasks=False)


def close_runtime(runtime: Session) -> None:
    """Stop what `open_runtime` started."""
    if isinstance(runtime, Runtime) and runtime.mode is Mode.EMBEDDED:
        stop_embedded()
    else:
        runtime.stop()


@contextmanager
def session() -> Iterator[Session]:
    """One command's runtime, with quiet logs; Tally errors end it with a clear message."""
    settings = load_settings()
    setup_logging("WARNING")
    with friendly_errors():
        runtime = open_runtime(settings)
        try:
            yield runtime
        finally:
            close_runtime(runtime)
