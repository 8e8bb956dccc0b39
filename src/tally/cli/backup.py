"""`tally backup create|list|restore|prune` and `tally catalog` (SPEC §13)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tally import keys
from tally.cli.common import console, fail, show, when
from tally.cli.follow import follow
from tally.cli.session import Timeout, session

backup_app = typer.Typer(help="Backups of the store and the metadata DB (SPEC §13).",
                         no_args_is_help=True)  # fmt: skip


@backup_app.command("create")
def backup_create(
    full: Annotated[
        bool, typer.Option("--full", help="a full backup (default: incremental)")
    ] = False,
    timeout_s: Timeout = 3600.0,
) -> None:
    """Back up now, with a progress bar; incremental on the latest full unless --full."""
    with session() as runtime:
        job_id = runtime.maintenance.start_backup("full" if full else "incremental")
        record = follow(runtime, job_id, "backup", timeout_s)
    if record.status.value != "succeeded":
        fail(f"backup failed: {record.error}")
    made = record.result
    console.print(f"backup [bold]{made['id']}[/] ({made['kind']}, {made['store_bytes']:,} bytes "
                  f"of store, {made['events']:,} events)")  # fmt: skip


@backup_app.command("list")
def backup_list() -> None:
    """Complete backups, newest first."""
    with session() as runtime:
        found = runtime.maintenance.backups()
    table = Table(title="backups", title_justify="left")
    for col in ("id", "kind", "base", "created (UTC)", "events", "store bytes", "metadata bytes"):
        table.add_column(col)
    for b in found:
        sizes = (show(b["events"]), show(b["store_bytes"]), show(b["metadata_bytes"]))
        table.add_row(b["id"], b["kind"], b["base"] or "", when(b["created_at"]), *sizes)
    console.print(table)


@backup_app.command("restore")
def backup_restore(
    backup_id: Annotated[str, typer.Argument(help="a backup's id (see `tally backup list`)")],
    force: Annotated[bool, typer.Option(help="go on although events wait to be stored")] = False,
    timeout_s: Timeout = 3600.0,
) -> None:
    """Replace the store and the metadata DB with a backup's."""
    with session() as runtime:
        job_id = runtime.maintenance.start_restore(backup_id, force=force)
        record = follow(runtime, job_id, "restore", timeout_s)
    if record.status.value != "succeeded":
        fail(f"restore failed: {record.error}")
    console.print(f"restored {backup_id}")


@backup_app.command("prune")
def backup_prune(
    keep_days: Annotated[float | None, typer.Option(help="default TALLY_BACKUP_KEEP_DAYS")] = None,
) -> None:
    """Remove old backups (a full one that a kept backup builds on stays)."""
    kwargs = {} if keep_days is None else {"keep_days": keep_days}
    with session() as runtime:
        record, _ = runtime.jobs.enqueue(keys.TASK_BACKUP_PRUNE, kwargs=kwargs)
        done = follow(runtime, record.job_id, "prune", 600)
    if done.status.value != "succeeded":
        fail(f"prune failed: {done.error}")
    removed = done.result["removed"]
    console.print(f"removed {len(removed)} backups: {', '.join(removed) or '—'}")


def catalog() -> None:
    """The store's tables: engine, rows, bytes on disk, parts (as last refreshed)."""
    with session() as runtime:
        found = runtime.maintenance.catalog()
    table = Table(title="catalog", title_justify="left")
    for col in ("database", "table", "engine", "rows", "bytes on disk", "parts", "modified"):
        table.add_column(col)
    for r in found:
        figures = (show(r["rows"]), show(r["bytes_on_disk"]), show(r["parts"]))
        table.add_row(r["database_name"], r["table_name"], r["engine"], *figures,
                      when(r["last_modified"]))  # fmt: skip
    console.print(table)
