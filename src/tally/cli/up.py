"""`tally up`, `tally up --status`, `tally down`: every process of a deployment, supervised."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from tally.cli.common import console, err_console, friendly_errors, load_settings
from tally.cli.session import session
from tally.cli.supervise import Place, Supervisor, config_text, plan
from tally.errors import ConfigError
from tally.settings import Mode

START_TIMEOUT_S = 90.0
BAD_STATES = frozenset({"fatal", "backoff", "exited"})


def up(
    status: Annotated[
        bool, typer.Option("--status", help="list the processes of a running `tally up`")
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="seconds to wait for every process to run")
    ] = START_TIMEOUT_S,
) -> None:
    """Start the API, a worker per queue, beat, Flower and metrics, restarted if they crash."""
    settings = load_settings()
    supervisor = Supervisor(Place.of(settings))
    if status:
        _status(supervisor)
        return
    if supervisor.running():
        err_console.print("[yellow]already up[/]; its processes:")
        _status(supervisor)
        return
    chosen = plan(settings)
    for note in chosen.notes:
        err_console.print(f"[yellow]note:[/] {note}")
    stop_wait_s = int(settings.jobs.shutdown_grace_s) + 10
    if settings.mode is Mode.REDIS:
        # Seed 001's setup made its tables first; the workers' capabilities need them.
        with session() as runtime:
            for line in runtime.upgrade_metadata():
                err_console.print(f"[green]applied[/] {line}")
    with friendly_errors():
        supervisor.start(config_text(supervisor.place, chosen.programs, stop_wait_s=stop_wait_s))
        _wait_running(supervisor, len(chosen.programs), timeout)
    _status(supervisor)
    err_console.print(
        f"logs in {supervisor.place.logs}; `tally up --status` to watch, `tally down` to stop"
    )


def _wait_running(supervisor: Supervisor, expected: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"))  # fmt: skip
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("starting", total=expected)
        while True:
            procs = supervisor.processes()
            running = sum(1 for p in procs if p["state"] == "running")
            bar.update(task, completed=running)
            broken = [p["name"] for p in procs if p["state"] in ("fatal",)]
            if broken:
                raise ConfigError(f"{', '.join(broken)} would not start: see its log in "
                                  f"{supervisor.place.logs}")  # fmt: skip
            if running == expected:
                return
            if time.monotonic() > deadline:
                late = [p["name"] for p in procs if p["state"] != "running"]
                raise ConfigError(f"not running after {timeout_s:.0f} s: {', '.join(late)}")
            time.sleep(0.5)


def _status(supervisor: Supervisor) -> None:
    with friendly_errors():
        procs = supervisor.processes()
    table = Table(title="tally up", title_justify="left")
    for column in ("process", "state", "pid", "uptime", "log"):
        table.add_column(column)
    for p in procs:
        colour = "green" if p["state"] == "running" else "yellow"
        colour = "red" if p["state"] in BAD_STATES else colour
        table.add_row(p["name"], f"[{colour}]{p['state']}[/]", str(p["pid"] or "—"),
                      _uptime(p), p["log"])  # fmt: skip
    console.print(table)
    if any(p["state"] != "running" for p in procs):
        raise typer.Exit(1)


def _uptime(p: dict[str, Any]) -> str:
    s = int(p["uptime_s"])
    return "—" if not s else f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def down(
    timeout: Annotated[
        float, typer.Option(min=1, help="seconds to wait before killing what still runs")
    ] = 60.0,
) -> None:
    """Stop every process of `tally up` (each by its PID), then its supervisor."""
    settings = load_settings()
    supervisor = Supervisor(Place.of(settings))
    with friendly_errors():
        count = len(supervisor.processes())
        killed = supervisor.shutdown(timeout)
    if killed:
        err_console.print(f"[yellow]killed after {timeout:.0f} s:[/] pids {killed}")
    err_console.print(f"stopped {count} processes")
