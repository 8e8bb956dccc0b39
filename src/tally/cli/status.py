"""`tally status`: mode, Redis, workers, queues, schedule, breakers, buffer, last run."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.table import Table

from tally.cli.common import (
    console,
    friendly_errors,
    kv_table,
    load_settings,
    setup_logging,
    show,
)
from tally.cli.session import Session, Timeout, close_runtime, open_runtime
from tally.errors import TallyError


def status(timeout: Timeout = 5.0) -> None:
    """Mode, Redis, workers, buffer and store at a glance."""
    settings = load_settings()
    setup_logging("WARNING")
    with friendly_errors():
        runtime = open_runtime(settings)
    try:
        with friendly_errors():
            ok, checks = runtime.health()
        shown = ("mode", "redis", "store", "metadata_db")
        policy = checks.get("redis_policy")
        if isinstance(policy, dict) and "maxmemory_policy" in policy:
            checks["redis"] = {**checks["redis"], "maxmemory_policy": policy["maxmemory_policy"],
                               "persistence": policy["persistence"]}  # fmt: skip
        console.print(kv_table("Tally", {k: checks.get(k) for k in shown}))
        _workers_table(checks.get("workers", []))
        _queues_table(runtime)
        with friendly_errors():
            _schedule_table(runtime)
        _breakers_table(checks.get("breakers", []))
        console.print(kv_table("buffer", checks.get("buffer", {})))
        _last_run(runtime)
        _firing_table(runtime)
        try:
            console.print(kv_table("store stats", runtime.store.stats(timeout)))
        except TallyError as exc:
            console.print(f"[yellow]store stats unavailable:[/] {exc}")
        for problem in checks.get("problems", []):
            console.print(f"[red]problem:[/] {problem}")
    finally:
        close_runtime(runtime)
    raise typer.Exit(0 if ok else 1)


def _firing_table(runtime: Session) -> None:
    try:
        firing = runtime.alerts.firing()
    except TallyError as exc:
        console.print(f"[yellow]alerts unavailable:[/] {exc}")
        return
    if not firing:
        console.print("alerts firing: [green]none[/]")
        return
    table = Table(title="alerts firing", title_justify="left")
    for col in ("rule", "group", "severity", "value", "bound", "since"):
        table.add_column(col)
    for f in firing:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(f["since"]))
        table.add_row(f["rule"], f["group"] or "(all)", f["severity"], show(f["value"]),
                      show(f["bound"]), since)  # fmt: skip
    console.print(table)


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


def _workers_table(workers: Any) -> None:
    if not isinstance(workers, list):
        console.print(f"[yellow]workers unavailable:[/] {workers}")
        return
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


def _queues_table(runtime: Session) -> None:
    try:
        queues = runtime.inspector.queues()
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


def _schedule_table(runtime: Session) -> None:
    table = Table(title="schedule", title_justify="left")
    for column in ("name", "task", "every", "next run"):
        table.add_column(column)
    for row in runtime.inspector.schedule():
        table.add_row(row["name"], row["task"], row["every"], row["next_run"] or "—")
    console.print(table)


def _last_run(runtime: Session) -> None:
    try:
        meta = runtime.analytics.metadata()
    except TallyError:
        console.print("last analytics run: [yellow]none yet[/]")
        return
    keys = ("status", "last_analysis", "as_of", "events_scanned", "duration_ms", "error")
    console.print(kv_table("last analytics run", {k: meta.get(k) for k in keys if k in meta}))
