"""`tally reports list|show|create|delete|run|runs|download` (SPEC §11)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from tally.cli.alerts import _invalid, _read
from tally.cli.common import console, fail, kv_table, show, when
from tally.cli.follow import follow
from tally.cli.session import Timeout, session
from tally.reports.definitions import ReportIn

reports_app = typer.Typer(help="Reports: definitions, runs and their files (SPEC §11).",
                          no_args_is_help=True)  # fmt: skip
Ref = Annotated[str, typer.Argument(help="the report's id or name")]
RunId = Annotated[str, typer.Argument(help="a run's id (see `tally reports runs`)")]


def _definition(source: str) -> ReportIn:
    try:
        return ReportIn.model_validate(_read(source))
    except ValidationError as exc:
        _invalid(exc)
        raise  # unreachable: _invalid exits


@reports_app.command("list")
def reports_list() -> None:
    """Every report: source, format, schedule, next and last run."""
    with session() as runtime:
        found = runtime.reports.reports()
    table = Table(title="reports", title_justify="left")
    for col in ("id", "name", "source", "format", "schedule", "next run (UTC)", "last run"):
        table.add_column(col)
    for r in found:
        sched = r["schedule"]
        last = r["last_run"]
        latest = "—" if last is None else f"{last['status']} {when(last['created_at'])}"
        table.add_row(
            str(r["id"]), r["name"], r["source"]["kind"], r["format"],
            "" if sched is None else f"{sched['cron']} {sched['timezone']}",
            when(r["next_run_at"]), latest,
        )  # fmt: skip
    console.print(table)


@reports_app.command("show")
def reports_show(ref: Ref) -> None:
    """One report's definition."""
    with session() as runtime:
        found = runtime.reports.report(ref)
    found.pop("last_run", None)
    console.print(kv_table(f"report {found['name']}", found))


@reports_app.command("create")
def reports_create(
    source: Annotated[str, typer.Argument(help="a JSON file (or - for standard input)")],
    replace: Annotated[bool, typer.Option(help="replace the report of the same name")] = False,
) -> None:
    """Create a report from JSON (see the README for the fields)."""
    definition = _definition(source)
    with session() as runtime:
        names = {r["name"] for r in runtime.reports.reports()}
        if replace and definition.name in names:
            saved = runtime.reports.replace(definition.name, definition)
        else:
            saved = runtime.reports.create(definition)
    nxt = f", next run {when(saved['next_run_at'])} UTC" if saved["next_run_at"] else ""
    console.print(f"report [bold]{saved['name']}[/] saved (id {saved['id']}{nxt})")


@reports_app.command("delete")
def reports_delete(ref: Ref) -> None:
    """Delete a report (its past runs stay until retention removes them)."""
    with session() as runtime:
        runtime.reports.delete(ref)
    console.print(f"report {ref} deleted")


@reports_app.command("run")
def reports_run(
    ref: Annotated[str | None, typer.Argument(help="a saved report's id or name")] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="run this JSON definition, unsaved")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="follow the run to its end with a progress bar")
    ] = True,
    timeout_s: Timeout = 600.0,
) -> None:
    """Run a report now (a saved one, or an inline definition with --file)."""
    if (ref is None) == (file is None):
        fail("give a report's name or --file FILE (one of them)")
    with session() as runtime:
        if file is not None:
            started = runtime.reports.run_inline(_definition(file))
        else:
            assert ref is not None
            started = runtime.reports.run_now(ref)
        console.print(f"run {started['id']} queued (job {started['job_id']})")
        if not wait:
            return
        record = follow(runtime, started["job_id"], f"report {started['name']}", timeout_s)
        run = runtime.reports.run(started["id"])
    if record.status.value != "succeeded" or run["status"] == "failed":
        fail(f"run {run['id']} {run['status']}: {run['error'] or record.error}")
    console.print(_run_table([run]))
    console.print(f"download: tally reports download {run['id']}")


def _run_table(found: list[dict[str, Any]]) -> Table:
    table = Table(title="report runs", title_justify="left")
    for col in (
        "run",
        "report",
        "slot / trigger",
        "status",
        "rows",
        "size",
        "deliveries",
        "created",
    ):
        table.add_column(col)
    for r in found:
        colour = {"done": "green", "partial": "yellow", "failed": "red"}.get(r["status"], "cyan")
        sent = ", ".join(f"{d['kind']} {d['status']}" for d in r["deliveries"]) or "—"
        slot = when(r["slot"]) if r["slot"] is not None else r["trigger"]
        table.add_row(r["id"], r["name"], slot, f"[{colour}]{r['status']}[/]", show(r["rows"]),
                      show(r["size_bytes"]), sent, when(r["created_at"]))  # fmt: skip
    return table


@reports_app.command("runs")
def reports_runs(
    ref: Annotated[str | None, typer.Argument(help="only this report's runs")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """Runs, newest first, with each delivery's outcome."""
    with session() as runtime:
        console.print(_run_table(runtime.reports.runs(ref, limit)))


@reports_app.command("download")
def reports_download(
    run_id: RunId,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="file or folder")] = None,
) -> None:
    """Save a run's file (default: its own name, here)."""
    with session() as runtime:
        run = runtime.reports.run(run_id)
        if not run["filename"]:
            fail(f"run {run_id} has no file (status {run['status']})")
        dest = output or Path(run["filename"])
        if dest.is_dir():
            dest = dest / run["filename"]
        size = runtime.reports.save_file(run_id, dest)
    console.print(f"saved {dest} ({size:,} bytes, sha256 {run['sha256']})")
