"""Runs: once per slot, rendered once, each target delivered (and retried) on its own."""

from __future__ import annotations

import email
import time
from pathlib import Path
from typing import Any

import pytest

from tally.infra.breakers import Breakers, specs
from tally.infra.metadb.db import MetadataDB
from tally.reports import files, repo, retention, runs
from tally.reports.definitions import ReportIn
from tally.reports.deliver import Delivered, deliver
from tally.reports.service import ReportsService
from tally.settings import ReportsSettings
from tally.store.chdb import ChdbStore
from tests.alerts.receiver import SmtpServer
from tests.reports.conftest import DAY0, S3Server, context_of, service_on, settings_in

END = "2026-12-01T00:00:00Z"


def definition(**extra: Any) -> ReportIn:
    source = {"kind": "events", "start": DAY0.isoformat(), "end": END}
    body = {"name": "weekly", "format": "csv", "source": source, **extra}
    return ReportIn.model_validate(body)


def render_run(service: ReportsService, store: ChdbStore, run_id: str) -> runs.Rendered:
    return runs.execute(service.db, run_id, service.settings, context_of(store),
                        lambda *_: None)  # fmt: skip


def deliver_all(service: ReportsService, ids: list[int], breakers: Breakers | None = None,
                rounds: int = 20) -> list[Delivered]:  # fmt: skip
    """Run each delivery job until none is due again (what retries scheduled would do)."""
    out: list[Delivered] = []
    pending = list(ids)
    for _ in range(rounds):
        again = []
        for delivery_id in pending:
            done = deliver(
                service.db, delivery_id, service.settings, service.alerts, breakers,
                runs.job_of(service.settings.directory), service.download_url,
            )  # fmt: skip
            out.append(done)
            if done.next_at is not None:
                again.append(delivery_id)
        if not again:
            break
        time.sleep(max(0.0, max(d.next_at or 0 for d in out[-len(pending) :]) - time.time()))
        pending = again
    return out


def test_two_tickers_on_one_slot_start_one_run(metadb: MetadataDB, tmp_path: Path) -> None:
    # Given a report every minute whose slot has come
    service = service_on(metadb, settings_in(tmp_path))
    report = service.create(definition(schedule={"cron": "* * * * *"}))
    slot = report["next_run_at"]
    # When two beats tick at the slot (and again, as a retried tick would)
    first = runs.tick(metadb, slot + 1)
    second = runs.tick(metadb, slot + 2)
    # Then one run exists for the slot, and the schedule moved to the next minute
    assert len(first.started) == 1
    assert second.started == []
    found = service.runs("weekly")
    assert [r["slot"] for r in found] == [slot]
    assert service.report("weekly")["next_run_at"] == slot + 60


def test_a_slot_already_run_is_not_run_again_even_if_the_schedule_is_behind(
    metadb: MetadataDB, tmp_path: Path
) -> None:
    service = service_on(metadb, settings_in(tmp_path))
    report = service.create(definition(schedule={"cron": "* * * * *"}))
    slot = report["next_run_at"]
    runs.tick(metadb, slot + 1)
    # Given the schedule set back by hand (a restored backup, a race with an edit)
    with metadb.session() as session:
        repo.advance(session.connection(), report["id"], slot + 60, slot)
    # When the slot is ticked again, the unique (report, slot) key refuses a second run
    again = runs.tick(metadb, slot + 5)
    assert again.started == []
    assert len(service.runs("weekly")) == 1


def test_after_downtime_only_the_latest_missed_slot_runs(
    metadb: MetadataDB, tmp_path: Path
) -> None:
    service = service_on(metadb, settings_in(tmp_path))
    report = service.create(definition(schedule={"cron": "* * * * *"}))
    slot = report["next_run_at"]
    done = runs.tick(metadb, slot + 10 * 60 + 5)  # ten slots missed
    assert len(done.started) == 1
    assert [r["slot"] for r in service.runs("weekly")] == [slot + 600]


def test_a_run_renders_once_and_its_file_is_complete(
    metadb: MetadataDB, tmp_path: Path, chdb: ChdbStore
) -> None:
    settings = settings_in(tmp_path)
    service = service_on(metadb, settings)
    service.create(definition())
    run_id = runs.add_adhoc(metadb, definition(), None, time.time())
    first = render_run(service, chdb, run_id)
    again = render_run(service, chdb, run_id)
    assert first.outcome == "rendered"
    assert again.outcome == "skipped"  # a re-delivered job finds it done
    shown = service.run(run_id)
    assert shown["status"] == "done"
    assert shown["rows"] == 13
    path = service.file(run_id).path
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == shown["sha256"]
    assert path.stat().st_size == shown["size_bytes"]
    assert list((settings.directory / files.TEMP_DIR).iterdir()) == []


def test_a_crashed_render_leaves_nothing_a_reader_could_take_for_a_report(
    metadb: MetadataDB, tmp_path: Path, chdb: ChdbStore
) -> None:
    # Given a run whose first render died half-way (a temporary file, the lease still held)
    settings = settings_in(tmp_path, TALLY_REPORTS_RUN_LEASE_S="0.2")
    service = service_on(metadb, settings)
    run_id = runs.add_adhoc(metadb, definition(), None, time.time())
    with metadb.session() as session:
        repo.claim_run(session.connection(), run_id, time.time(), 0.2)
    partial = files.temp_file(settings.directory, run_id, 1)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"day,event_type\n2026-11-24,vid")
    # Then nothing is downloadable, and no report-looking file exists
    with pytest.raises(Exception, match="has no file"):
        service.file(run_id)
    # When the lease ends, a tick finds the run and it is rendered again, once
    time.sleep(0.3)
    assert run_id in runs.tick(metadb, time.time()).again
    done = render_run(service, chdb, run_id)
    assert done.outcome == "rendered"
    assert not partial.exists()
    assert list((settings.directory / files.TEMP_DIR).iterdir()) == []
    assert service.run(run_id)["attempts"] == 2
    assert service.file(run_id).path.read_bytes().startswith(b'"day","event_type"')


def test_a_failing_target_is_retried_alone_through_its_breaker(
    metadb: MetadataDB, tmp_path: Path, chdb: ChdbStore, refusing_smtp: SmtpServer, s3: S3Server
) -> None:
    # Given a report to a folder, an email (its server refuses 3 times) and S3
    bucket = s3.bucket("reports")
    settings = settings_in(tmp_path, TALLY_REPORTS_STORAGE_OPTIONS=s3.options())
    service = service_on(
        metadb, settings, ALERT_EMAIL_SMTP_HOST="127.0.0.1",
        ALERT_EMAIL_SMTP_PORT=str(refusing_smtp.port), ALERT_EMAIL_SECURITY="none",
        ALERT_EMAIL_FROM="tally@example.com",
    )  # fmt: skip
    targets = [{"kind": "directory", "path": "weekly"},
               {"kind": "email", "to": ["boss@example.com"]},
               {"kind": "url", "url": f"s3://{bucket}/tally"}]  # fmt: skip
    report = service.create(definition(deliveries=targets))
    run_id = runs.add_adhoc(metadb, definition(deliveries=targets), report["id"], time.time())
    ids = render_run(service, chdb, run_id).deliveries
    breakers = Breakers(None, specs({"external_api": {"fail_max": 3, "reset_timeout_s": 1.0}}))
    # When each delivery job runs, and its retries as they come due
    outcomes = deliver_all(service, ids, breakers)
    # Then the email failed 3 times (opening its breaker), then went; the others went once
    run = service.run(run_id)
    by_kind = {d["kind"]: d for d in run["deliveries"]}
    assert by_kind["email"]["status"] == "delivered"
    assert by_kind["email"]["attempts"] == 4
    assert by_kind["directory"]["attempts"] == by_kind["url"]["attempts"] == 1
    assert [o.outcome for o in outcomes].count("delivered") == 3
    assert "deferred" in [o.outcome for o in outcomes]  # the breaker held the 4th try back
    assert run["status"] == "done"
    # and the attachment, the copy in the folder and the object are the run's file, byte for byte
    original = service.file(run_id).path.read_bytes()
    assert len(refusing_smtp.messages) == 1
    message = email.message_from_bytes(refusing_smtp.messages[0].content)  # type: ignore[arg-type]
    parts = [p for p in message.walk() if p.get_filename()]
    assert parts[0].get_payload(decode=True) == original
    name = service.file(run_id).filename
    assert (settings.directory / "weekly" / name).read_bytes() == original
    assert s3.keys(bucket) == [f"tally/{name}"]
    got = s3.client().get_object(Bucket=bucket, Key=f"tally/{name}")["Body"].read()
    assert got == original


def test_retention_removes_old_runs_and_their_files_and_nothing_newer(
    metadb: MetadataDB, tmp_path: Path, chdb: ChdbStore, s3: S3Server
) -> None:
    bucket = s3.bucket("old")
    options = s3.options()
    settings = settings_in(tmp_path, TALLY_REPORT_RETENTION_DAYS="1",
                           TALLY_REPORTS_STORAGE_OPTIONS=options)  # fmt: skip
    service = service_on(metadb, settings)
    targets = [{"kind": "directory", "path": "kept"}, {"kind": "url", "url": f"s3://{bucket}/r"}]
    made = []
    for age_days in (3, 0):
        run_id = runs.add_adhoc(metadb, definition(deliveries=targets), None,
                                time.time() - age_days * 86_400)  # fmt: skip
        deliver_all(service, render_run(service, chdb, run_id).deliveries)
        made.append(run_id)
    old, new = made
    old_name, new_name = service.file(old).filename, service.file(new).filename
    # When the cleanup runs
    removed = retention.cleanup(metadb, settings)
    # Then the old run is gone with its file, its copy and its object; the new one is whole
    assert removed["runs"] == 1
    assert removed["files"] == 1
    assert removed["delivered_files"] == 2
    assert [r["id"] for r in service.runs()] == [new]
    assert not (settings.directory / "kept" / old_name).exists()
    assert (settings.directory / "kept" / new_name).exists()
    assert s3.keys(bucket) == [f"r/{new_name}"]
    assert service.file(new).path.exists()


def test_a_report_settings_default_directory_is_in_the_data_dir(tmp_path: Path) -> None:
    settings = ReportsSettings.model_validate({"TALLY_DATA_DIR": str(tmp_path)})
    assert settings.directory == tmp_path / "reports"


def test_an_upload_that_fails_leaves_no_object_and_no_secret_in_its_error(
    metadb: MetadataDB, tmp_path: Path, chdb: ChdbStore, s3: S3Server
) -> None:
    # Given S3 keys in the storage options and a bucket that does not exist
    options = s3.options()
    options["s3"]["secret"] = "s3-secret-key-8812"
    settings = settings_in(tmp_path, TALLY_REPORTS_STORAGE_OPTIONS=options,
                           TALLY_REPORTS_DELIVERY_TRIES="2")  # fmt: skip
    service = service_on(metadb, settings)
    target = [{"kind": "url", "url": "s3://no-such-bucket/reports"}]
    run_id = runs.add_adhoc(metadb, definition(deliveries=target), None, time.time())
    ids = render_run(service, chdb, run_id).deliveries
    # When its delivery is tried (and retried)
    outcomes = deliver_all(service, ids)
    # Then it failed for good after its tries, saying why without the secret; nothing exists
    assert [o.outcome for o in outcomes] == ["retry", "failed"]
    run = service.run(run_id)
    assert run["status"] == "partial"
    error = run["deliveries"][0]["error"]
    assert "no-such-bucket" in error
    assert "s3-secret-key-8812" not in str(run)
    existing = [b["Name"] for b in s3.client().list_buckets()["Buckets"]]
    assert "no-such-bucket" not in existing
