"""`tally events flush`, `tally store stats`, `tally db upgrade`."""

from __future__ import annotations

from typing import Annotated

import typer

from tally.cli.common import console, kv_table
from tally.cli.session import Timeout, session

events_app = typer.Typer(help="The event buffer.", no_args_is_help=True)
store_app = typer.Typer(help="The analytics store.", no_args_is_help=True)
db_app = typer.Typer(help="Schemas.", no_args_is_help=True)


@events_app.command("flush")
def events_flush(
    wait: Annotated[bool, typer.Option(help="wait for the flush to finish")] = True,
    timeout: Timeout = 120.0,
) -> None:
    """Flush the buffer into the store now."""
    with session() as runtime:
        report = runtime.store.flush(wait=wait, timeout_s=timeout)
    console.print(kv_table("flush", report))


@store_app.command("stats")
def store_stats(timeout: Timeout = 30.0) -> None:
    """Events stored (distinct event_id), time range, bytes on disk."""
    with session() as runtime:
        stats = runtime.store.stats(timeout)
    console.print(kv_table("store", stats))


@db_app.command("upgrade")
def db_upgrade(timeout: Timeout = 120.0) -> None:
    """Create or migrate the store's schema and the metadata database's (idempotent)."""
    with session() as runtime:
        applied = runtime.upgrade_metadata()
        applied += runtime.store.upgrade(timeout)
    if applied:
        for line in applied:
            console.print(f"[green]applied[/] {line}")
    else:
        console.print("schemas are up to date")
