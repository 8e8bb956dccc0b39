"""Runs: one per (report, scheduled slot), rendered once, then delivered target by target.

The slot's unique key is the guarantee: two beats, a retried tick or a re-delivered job
all meet the same row, and only the holder of its lease renders. A render goes to a
temporary name and is renamed when complete; a crashed render's leftovers are removed
before the run is rendered again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tally.errors import Conflict, PdfUnavailable, TallyError, UnavailableError
from tally.infra import faults
from tally.infra.metadb.db import MetadataDB
from tally.reports import files, repo, templating
from tally.reports.definitions import Format, ReportIn
from tally.reports.deliver import Job
from tally.reports.render import Meta, render
from tally.reports.repo import RunStatus
from tally.reports.sources import Context, material
from tally.settings import ReportsSettings

Enqueue = Callable[..., Any]
MAX_RENDER_TRIES = 3
ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class Ticked:
    """What one tick did."""

    started: list[str]
    again: list[str]
    deliveries: list[int]


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).strftime(ISO)


def tick(db: MetadataDB, now: float) -> Ticked:
    """Start the runs of the slots that came (the latest per report), and find stale work."""
    started: list[str] = []
    with db.session() as session:
        due = repo.due(session.connection(), now)
    for report in due:
        schedule = report.definition.schedule
        if schedule is None or report.next_run_at is None:
            continue
        # After downtime only the latest missed slot runs, not one per missed slot.
        slot = max(report.next_run_at, schedule.last_at_or_before(now))
        next_at = schedule.next_after(now)
        run_id = str(uuid.uuid4())
        try:
            with db.session() as session:
                conn = session.connection()
                if not repo.advance(conn, report.id, report.next_run_at, next_at):
                    continue  # another ticker took this slot
                repo.add_run(conn, **_new_run(run_id, report.id, report.definition, now,
                                              slot=slot, trigger="schedule"))  # fmt: skip
            started.append(run_id)
        except Conflict:  # the slot has its run already: only move the schedule on
            with db.session() as session:
                repo.advance(session.connection(), report.id, report.next_run_at, next_at)
    with db.session() as session:
        conn = session.connection()
        again = [r for r in repo.stale_runs(conn, now) if r not in started]
        deliveries = repo.due_deliveries(conn, now)
    return Ticked(started, again, deliveries)


def _new_run(run_id: str, report_id: int | None, definition: ReportIn, now: float, *,
             slot: float | None, trigger: str) -> dict[str, Any]:  # fmt: skip
    return {
        "id": run_id, "report_id": report_id, "name": definition.name, "slot": slot,
        "trigger": trigger, "definition": definition.model_dump(mode="json"),
        "format": definition.format.value, "created_at": now,
    }  # fmt: skip


def add_adhoc(db: MetadataDB, definition: ReportIn, report_id: int | None, now: float) -> str:
    """Record a run asked for now (`report_id` None: an inline definition)."""
    run_id = str(uuid.uuid4())
    trigger = "manual" if report_id is not None else "inline"
    with db.session() as session:
        values = _new_run(run_id, report_id, definition, now, slot=None, trigger=trigger)
        repo.add_run(session.connection(), **values)
    return run_id


def context_of(run: Any, definition: ReportIn) -> dict[str, Any]:
    """What templates see about a run."""
    generated = run.finished_at or run.started_at or run.created_at
    return {
        "name": definition.name, "slug": templating.slug(definition.name),
        "title": title_of(definition, run), "source": definition.source.kind,
        "format": definition.format.value, "generated_at": _iso(generated), "slot": _iso(run.slot),
        "rows": run.rows, "run_id": run.id, "parameters": parameters(definition),
        "filename": Path(run.file_path or "").name,
    }  # fmt: skip


def title_of(definition: ReportIn, run: Any) -> str:
    """The rendered title template, or the report's name."""
    if not definition.title:
        return definition.name
    ctx = {"name": definition.name, "slot": _iso(run.slot), "source": definition.source.kind,
           "generated_at": _iso(run.started_at or run.created_at)}  # fmt: skip
    return templating.render(definition.title, ctx)


def parameters(definition: ReportIn) -> dict[str, Any]:
    """The source's parameters, as the document lists them."""
    shown = definition.source.model_dump(mode="json", exclude={"kind"})
    if definition.schedule is not None:
        shown["schedule"] = f"{definition.schedule.cron} ({definition.schedule.timezone})"
    return shown


def filename_of(definition: ReportIn, run: Any, at: float) -> str:
    """`<slug>-<slot in the schedule's zone>.<ext>` unless the report sets a template."""
    zone = definition.schedule.zone() if definition.schedule else UTC
    moment = datetime.fromtimestamp(run.slot if run.slot is not None else at, zone)
    if definition.filename:
        ctx = {"name": definition.name, "slug": templating.slug(definition.name), "at": moment,
               "run_id": run.id, "format": definition.format.value}  # fmt: skip
        stem = templating.render(definition.filename, ctx)
    else:
        stem = f"{templating.slug(definition.name)}-{moment:%Y%m%d-%H%M%S}"
        if run.slot is None:
            stem += f"-{run.id[:8]}"  # ad hoc runs of the same second stay apart
    return f"{templating.filename(stem)}.{definition.format.value}"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A run rendered (or not), and the deliveries to start."""

    outcome: str  # rendered, skipped (not ours or done), failed
    deliveries: list[int]
    run: dict[str, Any]


def execute(db: MetadataDB, run_id: str, settings: ReportsSettings, ctx: Context,
            progress: Callable[[float, str], None]) -> Rendered:  # fmt: skip
    """Render run `run_id` once (if it is ours to render), then list its deliveries."""
    now = time.time()
    root = settings.directory
    with db.session() as session:
        row = repo.claim_run(session.connection(), run_id, now, settings.run_lease_s)
    if row is None:
        with db.session() as session:
            current = repo.run(session.connection(), run_id)
        return Rendered("skipped", [], {"status": current.status})
    files.clear_temp(root, run_id)  # what an interrupted render of this run left
    definition = ReportIn.model_validate(row.definition)
    fmt = Format(definition.format)
    temp = files.temp_file(root, run_id, int(row.attempts))
    temp.parent.mkdir(parents=True, exist_ok=True)
    meta = Meta(
        name=definition.name, title=title_of(definition, row), description=definition.description,
        source=definition.source.kind, parameters=parameters(definition),
        generated_at=_iso(now) or "", slot=_iso(row.slot),
    )  # fmt: skip
    started = time.perf_counter()
    try:
        progress(5, "reading the report's source")
        data = material(definition, ctx, now)
        with open(temp, "wb") as out:
            written = render(
                data, fmt, out, meta, store=ctx.store,
                max_document_rows=settings.max_document_rows, progress=progress,
            )  # fmt: skip
        faults.hit("reports.before_commit")  # the crash the once-per-slot tests inject
        filename = filename_of(definition, row, now)
        final = files.run_file(root, run_id, filename)
        files.commit(temp, final)
    except (TallyError, OSError, RuntimeError) as exc:
        temp.unlink(missing_ok=True)
        return _failed(db, run_id, int(row.attempts), exc)
    progress(90, "recording the run")
    targets = [t.model_dump(mode="json") for t in definition.deliveries]
    status = RunStatus.DELIVERING if targets else RunStatus.DONE
    with db.session() as session:
        conn = session.connection()
        repo.update_run(
            conn, run_id, status=status.value, lease_until=None, rows=written.rows,
            size_bytes=written.size_bytes, sha256=written.sha256, note=written.note,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            file_path=str(final.relative_to(root)),
            finished_at=None if targets else time.time(),
        )  # fmt: skip
        ids = repo.add_deliveries(conn, run_id, targets, time.time())
        shown = dict(repo.run(conn, run_id)._mapping)
    return Rendered("rendered", ids, shown)


def _failed(db: MetadataDB, run_id: str, attempt: int, exc: BaseException) -> Rendered:
    """A render that failed: queued again when a retry may help, failed for good otherwise."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    transient = isinstance(exc, UnavailableError | OSError) and not isinstance(exc, PdfUnavailable)
    again = transient and attempt < MAX_RENDER_TRIES
    status = RunStatus.QUEUED if again else RunStatus.FAILED
    with db.session() as session:
        repo.update_run(
            session.connection(), run_id, status=status.value, lease_until=None,
            error=message[:2000], finished_at=None if again else time.time(),
        )  # fmt: skip
    if again:
        raise exc  # the job platform retries the job, with its backoff
    return Rendered("failed", [], {"status": status.value, "error": message})


def job_of(root: Path) -> Callable[[Any], Job]:
    """What a delivery needs about its run: the file, its name, the template context."""

    def build(run: Any) -> Job:
        definition = ReportIn.model_validate(run.definition)
        path = root / str(run.file_path)
        return Job(run.id, definition.name, path, path.name, Format(run.format),
                   context_of(run, definition))  # fmt: skip

    return build
