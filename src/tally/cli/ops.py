"""Operating commands: flush, store stats, schema upgrade, status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from tally.cli.common import console, friendly_errors, kv_table, load_settings, setup_logging
from tally.errors import TallyError
from tally.runtime.core import Runtime, embedded_runtime, stop_embedded
from tally.settings import Mode, Settings

events_app = typer.Typer(help="The event buffer.", no_args_is_help=True)
store_app = typer.Typer(help="The analytics store.", no_args_is_help=True)
db_app = typer.Typer(help="Schemas.", no_args_is_help=True)

Timeout = Annotated[float, typer.Option("--timeout", help="seconds to wait for the job")]


def open_runtime(settings: Settings) -> Runtime:
    """The runtime a one-shot command uses; embedded: this process owns the store meanwhile."""
    # Embedded: this process becomes the store's owner for the command's duration.
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


@events_app.command("flush")
def events_flush(
    wait: Annotated[bool, typer.Option(help="wait for the flush to finish")] = True,
    timeout: Timeout = 120.0,
) -> None:
    """Flush the buffer into the store now."""
    with session() as runtime:
        report = runtime.flush(wait, timeout)
    console.print(kv_table("flush", report))


@store_app.command("stats")
def store_stats(timeout: Timeout = 30.0) -> None:
    """Events stored (distinct event_id), time range, bytes on disk."""
    with session() as runtime:
        stats = runtime.store_stats(timeout)
    console.print(kv_table("store", stats))


@db_app.command("upgrade")
def db_upgrade(timeout: Timeout = 120.0) -> None:
    """Create or migrate the store's schema (idempotent)."""
    with session() as runtime:
        applied = runtime.db_upgrade(timeout)
    if applied:
        for line in applied:
            console.print(f"[green]applied[/] {line}")
    else:
        console.print("schema is up to date")


def status(timeout: Timeout = 5.0) -> None:
    """Mode, Redis, workers, buffer and store at a glance."""
    settings = load_settings()
    setup_logging("WARNING")
    runtime = open_runtime(settings)
    try:
        ok, checks = runtime.health()
        shown = ("mode", "redis", "store", "metadata_db")
        console.print(kv_table("Tally", {k: checks.get(k) for k in shown}))
        _workers_table(checks.get("workers", []))
        _queues_table(runtime)
        _schedule_table(runtime)
        _breakers_table(checks.get("breakers", []))
        console.print(kv_table("buffer", checks.get("buffer", {})))
        _last_run(runtime)
        try:
            console.print(kv_table("store stats", runtime.store_stats(timeout)))
        except TallyError as exc:
            console.print(f"[yellow]store stats unavailable:[/] {exc}")
        for problem in checks.get("problems", []):
            console.print(f"[red]problem:[/] {problem}")
    finally:
        close_runtime(runtime)
    raise typer.Exit(0 if ok else 1)


def _breakers_table(breakers: Any) -> None:
    if not isinstance(breakers, list):
        console.print(f"[yellow]breakers unavailable:[/] {breakers}")
        return
    table = Table(title="circuit breakers", title_justify="left")
    for column in ("name", "state", "failures", "opens after", "open for", "retry in"):
        table.add_column(column)
    colour = {"closed": "green", "half-open": "yellow", "open": "red"}
    for b in breakers:
        table.add_row(
            b["name"],
            f"[{colour.get(b['state'], 'white')}]{b['state']}[/]",
            str(b["failures"]),
            str(b["fail_max"]),
            f"{b['reset_timeout_s']:g} s",
            f"{b['retry_after_s']:g} s" if b["retry_after_s"] else "",
        )
    console.print(table)


def _workers_table(workers: list[dict[str, Any]]) -> None:
    table = Table(title="workers", title_justify="left")
    for column in ("name", "queues", "pool", "store"):
        table.add_column(column)
    for w in workers:
        table.add_row(
            str(w.get("name")),
            ",".join(w.get("queues", [])) if isinstance(w.get("queues"), list) else "all",
            str(w.get("pool", "threads")),
            "owner" if w.get("store_open") else "",
        )
    console.print(table)


def _queues_table(runtime: Runtime) -> None:
    try:
        queues = runtime.queues()
    except TallyError as exc:
        console.print(f"[yellow]queues unavailable:[/] {exc}")
        return
    table = Table(title="queues", title_justify="left")
    columns = ("name", "pending", "scheduled", "running", "succeeded_24h", "failed_24h")
    for column in (*columns, "workers"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for q in queues:
        table.add_row(*(str(q[c]) for c in columns), str(len(q["workers"])))
    console.print(table)


def _schedule_table(runtime: Runtime) -> None:
    table = Table(title="schedule", title_justify="left")
    for column in ("name", "task", "every", "next run"):
        table.add_column(column)
    for row in runtime.schedule():
        table.add_row(row["name"], row["task"], row["every"], row["next_run"] or "—")
    console.print(table)


def _last_run(runtime: Runtime) -> None:
    try:
        meta = runtime.analytics_metadata()
    except TallyError:
        console.print("last analytics run: [yellow]none yet[/]")
        return
    keys = ("status", "last_analysis", "as_of", "events_scanned", "duration_s", "error")
    console.print(kv_table("last analytics run", {k: meta.get(k) for k in keys if k in meta}))
