"""`tally analytics run|show|metadata`: trigger a run, watch it, read the results."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tally.cli.common import console, kv_table
from tally.cli.follow import follow
from tally.cli.session import Session, session
from tally.errors import JobError
from tally.settings import Mode

analytics_app = typer.Typer(help="Popularity and trending (SPEC §4).", no_args_is_help=True)

Metric = Annotated[str, typer.Argument(help="popularity or trending")]
By = Annotated[str, typer.Option("--by", help="country or category")]


@analytics_app.command("run")
def run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO time, default now (backfill: a past time)")
    ] = None,
    wait: Annotated[bool, typer.Option(help="wait and show progress")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 600.0,
    publish: Annotated[
        bool, typer.Option(help="a backfill (--as-of) replaces the live results seed 000 reads")
    ] = False,
) -> None:
    """Run popularity and trending now, or as of a past time (a backfill, under its own keys)."""
    with session() as runtime:
        # Embedded: the run happens in this process, so there is nothing to come back to.
        wait = wait or runtime.mode is Mode.EMBEDDED
        queued = runtime.analytics.run(as_of, wait=False, timeout_s=timeout, publish=publish)
        if not wait:
            console.print(kv_table("analytics run queued", queued))
            return
        metadata = watch(runtime, str(queued["job_id"]), timeout)
        console.print(kv_table("analytics run", _summary(metadata)))
        if runtime.mode is Mode.EMBEDDED:
            print_top(runtime, groups_per_dimension=3, rows=5)


def watch(runtime: Session, job_id: str, timeout_s: float) -> dict[str, Any]:
    """Show a run's progress until it ends; return its metadata."""
    record = follow(runtime, job_id, "analytics", timeout_s)
    if record.status.value != "succeeded":
        raise JobError(f"analytics run {job_id} {record.status}: {record.error}")
    result: dict[str, Any] = record.result
    return result


@analytics_app.command("show")
def show(
    metric: Metric = "popularity",
    by: By = "country",
    group: Annotated[str | None, typer.Option(help="one group, e.g. FR")] = None,
    limit: Annotated[int, typer.Option(min=1, help="rows per group")] = 10,
    as_of: Annotated[str | None, typer.Option("--as-of", help="a backfill's results")] = None,
) -> None:
    """Print the published results (live, or a backfill's with --as-of)."""
    with session() as runtime:
        payload = runtime.analytics.results(metric, by, group, limit, as_of=as_of)
    console.print(results_table(metric, by, payload["groups"]))
    console.print(f"as of {payload['as_of']}, generated {payload['generated_at']}")


@analytics_app.command("metadata")
def metadata() -> None:
    """Print the last run's metadata."""
    with session() as runtime:
        meta = runtime.analytics.metadata()
    console.print(kv_table("last analytics run", _summary(meta)))


def _summary(meta: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in meta.items() if k != "parameters"}
    params = meta.get("parameters") or {}
    shown["parameters"] = ", ".join(f"{k}={v}" for k, v in params.items() if k != "weights")
    return shown


def results_table(
    metric: str, by: str, groups: dict[str, list[dict[str, Any]]], title: str | None = None
) -> Table:
    """One ranked table for several groups of one result set."""
    table = Table(title=title or f"{metric} by {by}", title_justify="left")
    table.add_column(by)
    table.add_column("#", justify="right")
    table.add_column("entity")
    if metric == "popularity":
        table.add_column("score", justify="right")
        table.add_column("events", justify="right")
    else:
        for column in ("trend", "events", "recent (w)", "expected (w)", "growth"):
            table.add_column(column, justify="right")
        table.caption = (
            "weighted: recent = Σ weights over the last 24 h, expected = half the Σ over the "
            "48 h before; growth = (recent - expected) / expected"
        )
    for group, rows in groups.items():
        for row in rows:
            entity = f"{row['entity_type']}:{row['entity_id']}"
            first = group if row["rank"] == 1 else ""
            if metric == "popularity":
                values = [f"{row['score']:,.1f}", f"{row['events']:,}"]
            else:
                growth = row["growth"]
                values = [
                    f"{row['trend_score']:.2f}",
                    f"{row['events']:,}",
                    f"{row['recent']:,.1f}",
                    f"{row['expected']:,.1f}",
                    "new" if growth is None else f"{growth:+.0%}",
                ]
            table.add_row(first, str(row["rank"]), entity, *values)
        table.add_section()
    return table


def print_top(runtime: Session, *, groups_per_dimension: int, rows: int) -> None:
    """Top popular and trending entities for the largest few countries and categories."""
    for by in ("country", "category"):
        totals = runtime.analytics.results("popularity", by, None, rows).get("totals", {})
        biggest = sorted(totals, key=lambda g: -totals[g]["events"])[:groups_per_dimension]
        for metric in ("popularity", "trending"):
            payload = runtime.analytics.results(metric, by, None, rows)
            shown = {g: payload["groups"][g] for g in biggest if g in payload["groups"]}
            title = f"{metric} by {by} (top {rows}, {len(shown)} largest {by} groups)"
            console.print(results_table(metric, by, shown, title))
