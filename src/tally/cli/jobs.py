"""Job commands: `tally enqueue`, `tally job`, `tally jobs`, `tally abort`, `tally tasks`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from tally.cli.common import console, fail, kv_table
from tally.cli.follow import follow
from tally.cli.session import session
from tally.errors import ValidationFailed
from tally.jobs.record import JobRecord, Status, public


def parse_args(pairs: list[str]) -> dict[str, Any]:
    """`k=v` pairs as keyword arguments; a value is JSON when it parses, a string otherwise."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValidationFailed("--arg", "bad_format", f"{pair!r}: expected key=value")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def enqueue(
    task: Annotated[str, typer.Argument(help="task name, e.g. tally.noop")],
    arg: Annotated[list[str] | None, typer.Option("--arg", "-a", help="key=value (JSON)")] = None,
    priority: Annotated[int, typer.Option(min=0, max=9, help="0-9, higher runs first")] = 5,
    queue: Annotated[str | None, typer.Option(help="override the task's queue")] = None,
    countdown: Annotated[float | None, typer.Option(min=0, help="seconds to wait")] = None,
    job_id: Annotated[str | None, typer.Option(help="idempotency key")] = None,
    wait: Annotated[bool, typer.Option(help="follow the job with a progress bar")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 600.0,
) -> None:
    """Enqueue a job; with --wait, show its progress and result."""
    with session() as runtime:
        if task not in {t["name"] for t in runtime.inspector.tasks()}:
            fail(f"unknown task {task!r}; `tally tasks` lists the known ones")
        record, created = runtime.jobs.enqueue(
            task, kwargs=parse_args(arg or []), priority=priority, queue=queue,
            countdown=countdown, job_id=job_id,
        )  # fmt: skip
        if not created:
            console.print(f"[yellow]job {record.job_id} already exists[/]")
        if not wait:
            console.print(kv_table("job", {"job_id": record.job_id, "status": record.status}))
            return
        final = follow(runtime, record.job_id, task, timeout)
    _print_job(final)
    if final.status is not Status.SUCCEEDED:
        raise typer.Exit(1)


def job(job_id: Annotated[str, typer.Argument(help="job id")]) -> None:
    """Show one job."""
    with session() as runtime:
        record = runtime.jobs.get(job_id)
    _print_job(record)


def abort(job_id: Annotated[str, typer.Argument(help="job id")]) -> None:
    """Abort a job (a waiting one never runs; a running one is stopped)."""
    with session() as runtime:
        status = runtime.jobs.abort(job_id)
    console.print(f"job {job_id}: {status}")


def jobs(
    status: Annotated[Status | None, typer.Option(help="only this status")] = None,
    task: Annotated[str | None, typer.Option(help="only this task")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """Recent jobs, latest change first (finished, or created while still going)."""
    with session() as runtime:
        rows = runtime.jobs.recent(status, task, limit)
    table = Table(title=f"jobs ({len(rows)}), latest change first", title_justify="left")
    for column in ("job id", "task", "queue", "status", "progress", "attempts", "changed"):
        # Whole ids, never cut, so they can be copied into `tally job`.
        table.add_column(column, no_wrap=column == "job id", overflow="fold")
    for r in rows:
        p = public(r)
        table.add_row(
            r.job_id,
            r.task,
            r.queue,
            _coloured(r.status),
            "" if r.progress is None else f"{r.progress}%",
            f"{r.attempts}/{r.max_attempts}",
            str(p["finished_at"] or p["created_at"])[:19],
        )
    console.print(table)


def tasks() -> None:
    """Registered tasks."""
    with session() as runtime:
        rows = runtime.inspector.tasks()
    table = Table(title="tasks", title_justify="left")
    for column in ("name", "queue", "arguments", "description"):
        table.add_column(column)
    for t in rows:
        params = ", ".join(t["arguments"].get("properties", {}))
        table.add_row(t["name"], t["queue"], params, t["description"])
    console.print(table)


def _coloured(status: Status) -> str:
    colour = {"succeeded": "green", "failed": "red", "aborted": "yellow"}.get(status.value, "cyan")
    return f"[{colour}]{status.value}[/]"


def _print_job(record: JobRecord) -> None:
    data = public(record)
    result = data.pop("result")
    data["kwargs"] = json.dumps(data["kwargs"])
    console.print(kv_table(f"job {record.job_id}", data))
    if result is not None:
        console.print_json(json.dumps(result, default=str))
    if record.status is Status.FAILED:
        fail(f"job failed: {record.error}")
