"""`tally`: run the processes and operate the pipeline; one module per capability."""

from __future__ import annotations

import typer

from tally.cli import (
    alerts,
    analytics,
    backup,
    dbt,
    demo,
    jobs,
    ping,
    processes,
    reports,
    session,
    status,
    store,
    text,
    up,
)

app = typer.Typer(
    help="Tally: events in, analytics and jobs out.", no_args_is_help=True, add_completion=False
)
for _name, _command in (
    ("api", processes.api),
    ("dev", processes.dev),
    ("worker", processes.worker),
    ("beat", processes.beat),
    ("flower", processes.flower),
    ("metrics", processes.metrics),
    ("up", up.up),
    ("down", up.down),
    ("status", status.status),
    ("ping", ping.ping),
    ("demo", demo.demo),
    ("enqueue", jobs.enqueue),
    ("job", jobs.job),
    ("jobs", jobs.jobs),
    ("abort", jobs.abort),
    ("tasks", jobs.tasks),
):
    app.command(_name)(_command)


@app.callback()
def _options(
    url: str | None = typer.Option(
        None, "--url", envvar="TALLY_URL", help="a running Tally's API (default: a local tally dev)"
    ),
) -> None:
    """Tally: events in, analytics and jobs out."""
    session.api_url = url


app.add_typer(store.events_app, name="events")
app.add_typer(store.store_app, name="store")
app.add_typer(store.db_app, name="db")
app.add_typer(analytics.analytics_app, name="analytics")
app.add_typer(alerts.alerts_app, name="alerts")
app.add_typer(reports.reports_app, name="reports")
app.add_typer(dbt.dbt_app, name="dbt")
app.add_typer(backup.backup_app, name="backup")
app.command("catalog")(backup.catalog)
app.add_typer(text.text_app, name="text")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
