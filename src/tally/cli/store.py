"""`tally events flush`, `tally store stats`, `tally db upgrade`."""

from __future__ import annotations

from typing import Annotated

import typer

from tally import keys
from tally.cli.common import console, kv_table
from tally.cli.session import Session, Timeout, session
from tally.runtime.runtime import Runtime
from tally.settings import Mode

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
        owner = _store_owner_running(runtime)
        if owner:
            applied += runtime.store.upgrade(timeout)
        else:
            console.print(
                "store: no worker consumes the events queue yet; the worker that owns the "
                "store upgrades its schema when it starts"
            )
    if applied:
        for line in applied:
            console.print(f"[green]applied[/] {line}")
    else:
        console.print("schemas are up to date")


def _store_owner_running(runtime: Session) -> bool:
    """True when a worker (or this process, embedded) can run the store's upgrade now."""
    if isinstance(runtime, Runtime) and runtime.mode is Mode.EMBEDDED:
        return True
    queues = {q["name"]: q for q in runtime.inspector.queues()}
    return bool(queues.get(keys.EVENTS_QUEUE, {}).get("workers"))
