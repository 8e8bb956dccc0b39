"""What a report reads: a query the store streams (events, sql) or rows Tally holds.

`events` and `sql` reports are SQL run by the store, streamed block by block to a file;
`popularity`, `trending` and `jobs` are small (a limit per group, a row per task) and built
in Python from the published results or the job history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tally import keys
from tally.errors import NotFound
from tally.jobs.base import JobIndex
from tally.jobs.record import Status
from tally.jobs.stats import by_task
from tally.reports.definitions import (
    EventsSource,
    JobsSource,
    PopularitySource,
    ReportIn,
    SqlSource,
    TrendingSource,
)
from tally.reports.sqlguard import check_select
from tally.store.base import Store
from tally.store.sql import Names

JOBS_SCANNED = 10_000  # the job history keeps at most this many (TALLY_JOB_HISTORY_MAX)


class Rankings(Protocol):
    """Published analytics results (the analytics service), or a past run computed now."""

    def ranking(
        self, metric: str, by: str, limit: int, as_of: datetime | None
    ) -> dict[str, list[dict[str, Any]]]:
        """Group -> rows of popularity or trending."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a `sql` report may read and for how long."""

    max_rows: int
    timeout_s: int


@dataclass(frozen=True, slots=True)
class StoreQuery:
    """SQL the store runs; rows go from the engine to the file without Python in between."""

    sql: str
    params: dict[str, Any]
    settings: str = ""

    def text(self, *, limit: int | None = None) -> str:
        """The statement, capped at `limit` rows when given."""
        capped = f"SELECT * FROM (\n{self.sql}\n)" + ("" if limit is None else f" LIMIT {limit}")
        return capped + (f" SETTINGS {self.settings}" if self.settings else "")

    def head(self, store: Store, cap: int) -> tuple[list[str], list[list[Any]], int]:
        """Columns, the first `cap` rows and the count of all rows."""
        found = store.query(self.text(limit=cap + 1), self.params)
        total = len(found)
        if total > cap:
            counted = f"SELECT count() AS n FROM (\n{self.sql}\n)"
            if self.settings:
                counted += f" SETTINGS {self.settings}"
            total = int(store.query(counted, self.params)[0]["n"])
        columns = list(found[0]) if found else []
        return columns, [list(r.values()) for r in found[:cap]], total


@dataclass(slots=True)
class Rows:
    """Rows built in Python (small by construction), with the sections a document shows."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    # (section title, index of the first row, index past its last row)
    sections: list[tuple[str, int, int]] = field(default_factory=list)


Material = StoreQuery | Rows


@dataclass(frozen=True, slots=True)
class Context:
    """What sources read from, handed to `material` by the worker running the report."""

    store: Callable[[], Store] | None
    names: Names
    rankings: Rankings | None
    jobs: JobIndex | None
    weights: dict[str, float]
    limits: Limits


def material(definition: ReportIn, ctx: Context, now: float) -> Material:
    """The report's data: a store query, or rows."""
    source = definition.source
    if isinstance(source, PopularitySource | TrendingSource):
        return _ranking(source, ctx)
    if isinstance(source, EventsSource):
        return events_query(source, ctx, now)
    if isinstance(source, JobsSource):
        return _jobs(source, ctx, now)
    return sql_query(source, ctx.limits)


def sql_query(source: SqlSource, limits: Limits) -> StoreQuery:
    """The user's SELECT, read-only and bounded (rows and seconds)."""
    settings = (
        f"readonly=1, max_execution_time={int(limits.timeout_s)}, "
        f"max_result_rows={int(limits.max_rows)}, result_overflow_mode='throw'"
    )
    return StoreQuery(check_select(source.query), dict(source.params), settings)


def events_range(source: EventsSource, now: float) -> tuple[datetime, datetime]:
    """[start, end): the given range, or the last `days` whole days and today so far."""
    end = source.end or datetime.fromtimestamp(now, UTC)
    start = source.start or (end.astimezone(UTC).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
                             - timedelta(days=source.days - 1))  # fmt: skip
    return start.astimezone(UTC), end.astimezone(UTC)


def events_query(source: EventsSource, ctx: Context, now: float) -> StoreQuery:
    """Events, weight and users by day and the dimension (a Literal: safe in the text)."""
    start, end = events_range(source, now)
    where = [
        "created_at >= {start:DateTime64(3, 'UTC')}",
        "created_at < {end:DateTime64(3, 'UTC')}",
    ]
    params: dict[str, Any] = {
        "start": start.replace(tzinfo=None),
        "end": end.replace(tzinfo=None),
        "weight_types": list(ctx.weights),
        "weight_values": [float(w) for w in ctx.weights.values()],
    }
    if source.event_types:
        where.append("event_type IN {event_types:Array(String)}")
        params["event_types"] = list(source.event_types)
    if source.country:
        where.append("country = {country:String}")
        params["country"] = source.country.strip().upper()
    dim = source.dimension
    sql = (
        f"SELECT toDate(created_at) AS day, {dim}, count() AS events, "
        "round(sum(transform(event_type, {weight_types:Array(String)}, "
        "{weight_values:Array(Float64)}, 0.0)), 3) AS weight, uniqExact(user_id) AS users "
        f"FROM {ctx.names.events} WHERE {' AND '.join(where)} "
        f"GROUP BY day, {dim} ORDER BY day, {dim}"
    )
    return StoreQuery(sql, params)


def _ranking(source: PopularitySource | TrendingSource, ctx: Context) -> Rows:
    if ctx.rankings is None:
        raise RuntimeError("this worker cannot read analytics results")
    metric = source.kind
    groups = ctx.rankings.ranking(metric, source.by, source.limit, source.as_of)
    wanted = [g.strip().upper() if source.by == "country" else g.strip() for g in source.groups]
    chosen = wanted or sorted(groups)
    if metric == "popularity":
        columns = ["group", "rank", "entity_type", "entity_id", "score", "events"]
    else:
        columns = ["group", "rank", "entity_type", "entity_id", "trend_score", "growth",
                   "recent", "expected", "events"]  # fmt: skip
    out = Rows(columns)
    for group in chosen:
        first = len(out.rows)
        for row in groups.get(group, [])[: source.limit]:
            out.rows.append([group, *(row.get(c) for c in columns[1:])])
        out.sections.append((f"{source.by} {group}", first, len(out.rows)))
    return out


def _jobs(source: JobsSource, ctx: Context, now: float) -> Rows:
    if ctx.jobs is None:
        raise RuntimeError("this worker cannot read the job history")
    since = now - source.hours * 3600
    finals = [Status.SUCCEEDED, Status.FAILED, Status.ABORTED]
    records = ctx.jobs.recent(finals, list(keys.QUEUES), JOBS_SCANNED)
    wanted = set(source.tasks)
    chosen = [r for r in records
              if (r.finished_at or 0) >= since and (not wanted or r.task in wanted)]  # fmt: skip
    columns = ["task", "runs", "succeeded", "failed", "retries", "p50_s", "p95_s", "max_s"]
    out = Rows(columns)
    for t in by_task(chosen):
        out.rows.append([t.task, t.runs, t.succeeded, t.failed, t.retries, t.p50_s, t.p95_s,
                         t.max_s])  # fmt: skip
    out.sections.append((f"jobs finished in the last {source.hours:g} h", 0, len(out.rows)))
    return out


def rankings_missing(as_of: datetime | None) -> NotFound:
    """The error when no analytics run exists to report on."""
    if as_of is None:
        return NotFound("no analytics run yet: run `tally analytics run` first")
    return NotFound(f"no analytics run as of {as_of.isoformat()}")
