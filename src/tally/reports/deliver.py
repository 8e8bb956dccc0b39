"""Deliver a rendered run to one target: a folder, an email, an fsspec URL.

Each target is its own job and its own row: a failed target is retried alone, with
backoff, through a breaker of its own (`external_api:<target>`, with external_api's limits),
so one receiver down holds back no other.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import Counter
from pydantic import TypeAdapter

from tally.alerts import channels
from tally.alerts.deliver import smtp_of
from tally.alerts.send import Attachment, Sent, Smtp, send_email
from tally.errors import BreakerOpen, NotFound
from tally.infra import faults
from tally.infra.breakers import Breakers
from tally.infra.metadb.db import MetadataDB
from tally.reports import files, repo, templating
from tally.reports.definitions import DirectoryTarget, EmailTarget, Format, Target, UrlTarget
from tally.reports.repo import DeliveryStatus
from tally.settings import AlertsSettings, ReportsSettings

log = logging.getLogger("tally.reports")
DELIVERIES = Counter("tally_report_deliveries", "Report delivery attempts", ["kind", "outcome"])
TARGET: TypeAdapter[Target] = TypeAdapter(Target)
LEASE_S = 300.0


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one delivery job did."""

    outcome: str  # delivered, retry, failed, deferred (breaker open), skipped (not due/taken)
    attempt: int = 0
    error: str | None = None
    next_at: float | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt: where the file went, or why not (`permanent`: no retry helps)."""

    location: str | None = None
    error: str | None = None
    permanent: bool = False


def breaker_of(target: Target) -> str | None:
    """The target's own breaker (a folder on this disk needs none)."""
    if isinstance(target, EmailTarget):
        return f"external_api:email:{target.channel or 'default'}"
    if isinstance(target, UrlTarget):
        parts = urlsplit(target.url)
        if parts.scheme in ("", "file", "local"):
            return None
        return f"external_api:{parts.scheme}:{parts.hostname or ''}"
    return None


def describe(target: Target) -> dict[str, Any]:
    """A target as runs show it: no credentials in a URL."""
    shown = target.model_dump(mode="json")
    if isinstance(target, UrlTarget):
        parts = urlsplit(target.url)
        shown["url"] = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
    return shown


@dataclass(frozen=True, slots=True)
class Job:
    """What a delivery needs to know about its run."""

    run_id: str
    name: str
    file: Path
    filename: str
    fmt: Format
    context: dict[str, Any]


def attempt(job: Job, target: Target, rs: ReportsSettings, alerts: AlertsSettings,
            db: MetadataDB, download_url: str) -> Outcome:  # fmt: skip
    """Deliver once; never raises for a target's failure."""
    if isinstance(target, DirectoryTarget):
        try:
            folder = files.inside(rs.directory, target.path)
            return Outcome(str(files.copy_into(job.file, folder, job.filename)))
        except OSError as exc:
            return Outcome(error=f"cannot write into {target.path or '.'}: {exc.strerror}")
    if isinstance(target, UrlTarget):
        try:
            return Outcome(files.upload(job.file, target.url, job.filename, rs.storage_options))
        except files.StorageFailed as exc:
            return Outcome(error=exc.message, permanent=exc.permanent)
    sent = _email(job, target, rs, alerts, db, download_url)
    if sent.ok:
        return Outcome(f"mailto:{','.join(_recipients(target, alerts, db))}")
    return Outcome(error=sent.error, permanent=sent.permanent)


def _recipients(target: EmailTarget, alerts: AlertsSettings, db: MetadataDB) -> list[str]:
    if target.to:
        return list(target.to)
    return smtp_for(target, alerts, db).to


def smtp_for(target: EmailTarget, alerts: AlertsSettings, db: MetadataDB) -> Smtp:
    """The SMTP settings of the target's alerts channel, or seed 001's ALERT_EMAIL_*."""
    if target.channel is None:
        channel = channels.Channel(0, "default", "email", {}, {})
    else:
        with db.session() as session:
            channel = channels.channel(session.connection(), target.channel)
        if channel.kind != "email":
            raise NotFound(f"channel {target.channel!r} is a {channel.kind} channel, not email")
    return smtp_of(channel, alerts)


def _email(job: Job, target: EmailTarget, rs: ReportsSettings, alerts: AlertsSettings,
           db: MetadataDB, download_url: str) -> Sent:  # fmt: skip
    try:
        smtp = smtp_for(target, alerts, db)
    except NotFound as exc:
        return Sent.fail(str(exc), permanent=True)
    if target.to:
        smtp = dataclasses.replace(smtp, to=list(target.to))
    if not smtp.to:
        return Sent.fail(
            "no recipient (set `to`, the channel's, or ALERT_EMAIL_TO)", permanent=True
        )
    size = job.file.stat().st_size
    ctx = {**job.context, "download_url": download_url, "size_bytes": size}
    subject = templating.render(target.subject or "Tally report: {{ title }}", ctx)
    attached = size <= rs.email_max_bytes
    default_body = (
        "{{ title }}\n\nGenerated {{ generated_at }}"
        "{% if slot %} for the slot {{ slot }}{% endif %}; "
        "{{ rows }} rows.\n" + ("The report is attached ({{ filename }}).\n" if attached else
                                "The file ({{ size_bytes }} bytes) is too large to attach.\n")
        + "Download: {{ download_url }}\n"
    )  # fmt: skip
    text = templating.render(target.body or default_body, ctx)
    extra: tuple[Attachment, ...] = ()
    if attached:
        extra = (Attachment(job.filename, job.file.read_bytes(), job.fmt.media_type),)
    return send_email(smtp, subject, text, notification_id=f"report-{job.run_id}",
                      attachments=extra)  # fmt: skip


def backoff_s(rs: ReportsSettings, attempt_no: int) -> float:
    """Exponential: backoff_s, doubled per attempt, at most backoff_max_s."""
    return float(min(rs.backoff_max_s, rs.backoff_s * 2 ** max(0, attempt_no - 1)))


class _Retryable(Exception):
    """A failed delivery that counts against its target's breaker."""


def deliver(db: MetadataDB, delivery_id: int, rs: ReportsSettings, alerts: AlertsSettings,
            breakers: Breakers | None, job_of: Any, download_url: Any) -> Delivered:  # fmt: skip
    """Deliver row `delivery_id` if due and free; record the outcome or the next try."""
    now = time.time()
    with db.session() as session:
        conn = session.connection()
        row = repo.claim_delivery(conn, delivery_id, now, LEASE_S)
        if row is None:
            return Delivered("skipped")
        run = repo.run(conn, row.run_id)
    target = TARGET.validate_python(row.target)
    job: Job = job_of(run)
    name = breaker_of(target)
    number = int(row.attempts)
    wait_s = 0.0 if breakers is None or name is None else breakers.retry_after_s(name)
    if wait_s > 0:
        return _defer(db, delivery_id, number, now + wait_s)
    outcome = Outcome(error="not delivered")
    try:
        if breakers is None or name is None:
            outcome = attempt(job, target, rs, alerts, db, download_url(run.id))
        else:
            with breakers.guard(name):
                outcome = attempt(job, target, rs, alerts, db, download_url(run.id))
                if outcome.error is not None and not outcome.permanent:
                    raise _Retryable(outcome.error)
    except _Retryable:
        pass
    except BreakerOpen as exc:
        return _defer(db, delivery_id, number, time.time() + exc.retry_after_s)
    faults.hit("reports.after_deliver")
    retry_at = None
    if outcome.error is not None and not outcome.permanent and number < rs.delivery_tries:
        retry_at = time.time() + backoff_s(rs, number)
    if outcome.error is None:
        values: dict[str, Any] = {"status": DeliveryStatus.DELIVERED.value,
                                  "delivered_at": time.time(), "location": outcome.location,
                                  "error": None}  # fmt: skip
        result = "delivered"
    elif retry_at is not None:
        values, result = {"status": DeliveryStatus.PENDING.value, "next_attempt_at": retry_at,
                          "error": outcome.error}, "retry"  # fmt: skip
    else:
        values, result = {"status": DeliveryStatus.FAILED.value, "error": outcome.error}, "failed"
    with db.session() as session:
        conn = session.connection()
        repo.finish_delivery(conn, delivery_id, **values)
        settle_run(conn, row.run_id)
    DELIVERIES.labels(target.kind, result).inc()
    log.info("report run %s to %s: %s (attempt %d)%s", row.run_id, target.kind, result, number,
             f": {outcome.error}" if outcome.error else "")  # fmt: skip
    return Delivered(result, number, outcome.error, retry_at, outcome.location)


def _defer(db: MetadataDB, delivery_id: int, number: int, until: float) -> Delivered:
    with db.session() as session:
        conn = session.connection()
        repo.finish_delivery(conn, delivery_id, status=DeliveryStatus.PENDING.value,
                             next_attempt_at=until, attempts=max(0, number - 1))  # fmt: skip
    return Delivered("deferred", number - 1, "breaker open", until)


def settle_run(conn: Any, run_id: str) -> None:
    """A delivering run is done once every target is delivered, partial if one failed."""
    found = repo.deliveries(conn, [run_id]).get(run_id, [])
    states = {d["status"] for d in found}
    if states & {DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value}:
        return
    status = (
        repo.RunStatus.PARTIAL if DeliveryStatus.FAILED.value in states else repo.RunStatus.DONE
    )
    repo.update_run(conn, run_id, status=status.value, finished_at=time.time())
