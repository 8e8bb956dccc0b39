"""`tally dbt init|runs|nodes` (SPEC §12); runs are jobs: `tally enqueue dbt.build`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tally.cli.common import console, friendly_errors, load_settings, show, when
from tally.cli.session import session
from tally.dbt.starter import write

dbt_app = typer.Typer(help="dbt over the store: a starter project, runs and nodes (SPEC §12).",
                      no_args_is_help=True)  # fmt: skip


@dbt_app.command("init")
def dbt_init(
    path: Annotated[Path | None, typer.Argument(help="where (default: DBT_PROJECT_PATH)")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing project's files")] = False,
) -> None:
    """Write a starter dbt project over Tally's events (sources, a daily model, tests)."""
    settings = load_settings()
    with friendly_errors():
        target = path or settings.dbt.project
        files = write(target, database=settings.store.database,
                      table=settings.store.table_name, force=force)  # fmt: skip
    console.print(f"dbt project written to [bold]{target}[/] ({len(files)} files)")
    if path is not None and path != settings.dbt.project:
        console.print(f"set DBT_PROJECT_PATH={target} for the workers to use it")
    console.print("run it: tally enqueue dbt.build --wait")


@dbt_app.command("runs")
def dbt_runs(limit: Annotated[int, typer.Option(min=1, max=500)] = 20) -> None:
    """The latest dbt invocations with their counts per status."""
    with session() as runtime:
        found = runtime.dbt.invocations(limit)
    table = Table(title="dbt invocations", title_justify="left")
    for col in ("invocation", "command", "nodes", "statuses", "started", "job"):
        table.add_column(col)
    for r in found:
        statuses = ", ".join(f"{k} {v}" for k, v in r["statuses"].items())
        table.add_row(r["invocation_id"], r["command"], show(r["nodes"]), statuses,
                      when(r["started_at"]), r["job_id"] or "")  # fmt: skip
    console.print(table)


@dbt_app.command("nodes")
def dbt_nodes(invocation: Annotated[str, typer.Argument(help="an invocation id")]) -> None:
    """Every node of one invocation."""
    with session() as runtime:
        found = runtime.dbt.nodes(invocation)
    table = Table(title=f"nodes of {invocation}", title_justify="left")
    for col in ("node", "status", "seconds", "rows", "message"):
        table.add_column(col)
    for n in found:
        table.add_row(n["node_id"], n["status"], show(n["execution_time_s"]),
                      show(n["rows_affected"]), n["message"] or "")  # fmt: skip
    console.print(table)
