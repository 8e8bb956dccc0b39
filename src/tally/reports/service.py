"""The reports capability as routes, commands and pages use it: CRUD, runs, downloads."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tally import keys
from tally.alerts import channels
from tally.errors import NotFound, ValidationFailed
from tally.infra.metadb.db import MetadataDB
from tally.jobs.client import JobClient
from tally.reports import files, repo, runs, templating
from tally.reports.definitions import (
    DirectoryTarget,
    EmailTarget,
    Format,
    ReportIn,
    SqlSource,
    UrlTarget,
)
from tally.reports.deliver import TARGET, describe
from tally.reports.render import load_weasyprint
from tally.reports.sqlguard import check_select
from tally.settings import AlertsSettings, ReportsSettings


@dataclass(frozen=True, slots=True)
class Download:
    """A run's file as the API serves it."""

    path: Path
    filename: str
    media_type: str


class ReportsService:
    """Definitions and runs in the metadata database; rendering and delivery run as jobs."""

    def __init__(self, db: MetadataDB, settings: ReportsSettings, alerts: AlertsSettings,
                 jobs: JobClient, public_url: str) -> None:  # fmt: skip
        self.db = db
        self.settings = settings
        self.alerts = alerts
        self.jobs = jobs
        self.public_url = public_url.rstrip("/")

    def download_url(self, run_id: str) -> str:
        """Where a run's file is downloaded (in emails)."""
        return f"{self.public_url}/api/v1/reports/runs/{run_id}/file"

    # --- validation --------------------------------------------------------------------
    def check(self, definition: ReportIn) -> None:
        """Everything a saved definition must pass; ValidationFailed naming the field."""
        templating.check(definition.title, "title")
        templating.check(definition.filename, "filename")
        if isinstance(definition.source, SqlSource):
            check_select(definition.source.query)
        if definition.format is Format.PDF:
            try:
                load_weasyprint()
            except Exception as exc:  # noqa: BLE001 - PdfUnavailable, said as a field error
                raise ValidationFailed("format", "unavailable", str(exc)) from None
        for i, target in enumerate(definition.deliveries):
            where = f"deliveries.{i}"
            if isinstance(target, DirectoryTarget):
                files.inside(self.settings.directory, target.path)
            elif isinstance(target, UrlTarget):
                try:
                    files.check_url(
                        target.url, self.settings.roots(), self.settings.storage_options
                    )
                except ValidationFailed as exc:
                    raise ValidationFailed(f"{where}.url", exc.reason, exc.message) from None
            elif isinstance(target, EmailTarget):
                self._check_email(target, where)

    def _check_email(self, target: EmailTarget, where: str) -> None:
        templating.check(target.subject, f"{where}.subject")
        templating.check(target.body, f"{where}.body")
        to = list(target.to)
        if target.channel is not None:
            with self.db.session() as session:
                try:
                    channel = channels.channel(session.connection(), target.channel)
                except NotFound:
                    message = f"no alerts channel {target.channel!r}"
                    raise ValidationFailed(f"{where}.channel", "unknown", message) from None
            if channel.kind != "email":
                message = f"channel {target.channel!r} is {channel.kind}, not email"
                raise ValidationFailed(f"{where}.channel", "not_email", message)
            to = to or list(channel.config.get("to") or [])
        if not to and self.alerts.email_to:
            to = [a for a in self.alerts.email_to.split(",") if a.strip()]
        if not to:
            message = "no recipient: give `to`, a channel with one, or ALERT_EMAIL_TO"
            raise ValidationFailed(f"{where}.to", "missing", message)

    # --- definitions -------------------------------------------------------------------
    def reports(self) -> list[dict[str, Any]]:
        """Every report with its next slot and last run."""
        with self.db.session() as session:
            conn = session.connection()
            found = repo.reports(conn)
            last = {r.id: repo.runs(conn, report_id=r.id, limit=1) for r in found}
        return [self._shown(r, next(iter(last.get(r.id) or []), None)) for r in found]

    def _shown(self, report: repo.Report, last: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "id": report.id, **report.definition.public(),
            "deliveries": [describe(t) for t in report.definition.deliveries],
            "next_run_at": report.next_run_at if report.definition.enabled else None,
            "last_run": None if last is None else self._run(last),
            "created_at": report.created_at, "updated_at": report.updated_at,
        }  # fmt: skip

    def report(self, ref: str | int) -> dict[str, Any]:
        """One report."""
        with self.db.session() as session:
            conn = session.connection()
            found = repo.report(conn, ref)
            last = repo.runs(conn, report_id=found.id, limit=1)
        return self._shown(found, last[0] if last else None)

    def create(self, definition: ReportIn) -> dict[str, Any]:
        """Save a new report (422 naming the field; 409 for a taken name)."""
        self.check(definition)
        with self.db.session() as session:
            report_id = repo.save(session.connection(), definition, time.time())
        return self.report(report_id)

    def replace(self, ref: str | int, definition: ReportIn) -> dict[str, Any]:
        """Replace a definition; its runs stay."""
        self.check(definition)
        with self.db.session() as session:
            conn = session.connection()
            report_id = repo.report(conn, ref).id
            repo.save(conn, definition, time.time(), report_id)
        return self.report(report_id)

    def delete(self, ref: str | int) -> None:
        """Remove a report (its past runs stay until retention removes them)."""
        with self.db.session() as session:
            conn = session.connection()
            repo.delete(conn, repo.report(conn, ref).id)

    # --- runs --------------------------------------------------------------------------
    def run_now(self, ref: str | int) -> dict[str, Any]:
        """Run a saved report now, outside its schedule."""
        with self.db.session() as session:
            found = repo.report(session.connection(), ref)
        self.check(found.definition)
        run_id = runs.add_adhoc(self.db, found.definition, found.id, time.time())
        return self._start(run_id)

    def run_inline(self, definition: ReportIn) -> dict[str, Any]:
        """Run a definition that is not saved."""
        self.check(definition)
        run_id = runs.add_adhoc(self.db, definition, None, time.time())
        return self._start(run_id)

    def _start(self, run_id: str) -> dict[str, Any]:
        record, _ = self.jobs.enqueue(keys.TASK_REPORTS_RUN, kwargs={"run_id": run_id},
                                      job_id=f"report-run-{run_id}")  # fmt: skip
        return {**self.run(run_id), "job_id": record.job_id}

    def runs(self, ref: str | int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Runs newest first (of one report, or all)."""
        with self.db.session() as session:
            conn = session.connection()
            report_id = None if ref is None else repo.report(conn, ref).id
            found = repo.runs(conn, report_id=report_id, limit=limit)
        return [self._run(r) for r in found]

    def run(self, run_id: str) -> dict[str, Any]:
        """One run with its deliveries."""
        with self.db.session() as session:
            conn = session.connection()
            row = dict(repo.run(conn, run_id)._mapping)
            row["deliveries"] = repo.deliveries(conn, [run_id]).get(run_id, [])
        return self._run(row)

    def _run(self, row: dict[str, Any]) -> dict[str, Any]:
        keep = ("id", "report_id", "name", "slot", "trigger", "format", "status", "attempts",
                "created_at", "started_at", "finished_at", "rows", "size_bytes", "sha256",
                "duration_ms", "note", "error")  # fmt: skip
        out = {k: row.get(k) for k in keep}
        path = row.get("file_path")
        out["filename"] = None if not path else Path(path).name
        out["download_url"] = None if not path else f"/api/v1/reports/runs/{row['id']}/file"
        out["deliveries"] = [
            {"kind": d["kind"], "target": _public_target(d["target"]), "status": d["status"],
             "attempts": d["attempts"], "location": _public_location(d["location"]),
             "error": d["error"], "delivered_at": d["delivered_at"]}
            for d in row.get("deliveries", [])
        ]  # fmt: skip
        return out

    def file(self, run_id: str) -> Download:
        """The file of a rendered run (NotFound before it is rendered or after retention)."""
        with self.db.session() as session:
            row = repo.run(session.connection(), run_id)
        if not row.file_path:
            raise NotFound(f"run {run_id} has no file (status {row.status})")
        path = self.settings.directory / row.file_path
        if not path.is_file():
            raise NotFound(f"the file of run {run_id} is gone (removed by retention?)")
        return Download(path, path.name, Format(row.format).media_type)

    def save_file(self, run_id: str, dest: Path) -> int:
        """Copy a run's file to `dest` (complete or not there); the bytes written."""
        found = self.file(run_id)
        files.copy_into(found.path, dest.parent, dest.name)
        return dest.stat().st_size


def _public_target(target: dict[str, Any]) -> dict[str, Any]:
    return describe(TARGET.validate_python(target))


def _public_location(location: str | None) -> str | None:
    if location is None or "://" not in location:
        return location
    return files.shown(location)
