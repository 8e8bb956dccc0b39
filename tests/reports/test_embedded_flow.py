"""`tally dev` end to end: a trending PDF to email, S3 and a folder; every format; bad input.

The SMTP server (with login) and the S3-compatible server are real local servers. The
email's attachment, the S3 object, the folder's copy and the API's download are compared
byte for byte; no SMTP password appears in any answer, page or log line.
"""

from __future__ import annotations

import csv
import email
import io
import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.alerts.receiver import SmtpServer
from tests.conftest import (
    API_TOKEN,
    Proc,
    api_client,
    clean_env,
    free_port,
    run_tally,
    wait_http,
    wait_until,
)
from tests.reports.conftest import S3Server

SMTP_PASSWORD = "smtp-pw-4417"


def events(now: datetime) -> list[dict[str, Any]]:
    """FR: v-hot is new and busy now; v-old was busy yesterday. DE: a few views."""
    out = []
    for i in range(40):
        out.append({"event_type": "video_view", "entity_type": "video", "entity_id": "v-hot",
                    "country": "FR", "user_id": f"u{i}",
                    "created_at": (now - timedelta(minutes=i)).isoformat()})  # fmt: skip
    for i in range(20):
        out.append({"event_type": "video_view", "entity_type": "video", "entity_id": "v-old",
                    "country": "FR", "user_id": f"o{i}",
                    "created_at": (now - timedelta(hours=30, minutes=i)).isoformat()})  # fmt: skip
    for i in range(6):
        view = {"event_type": "video_view", "entity_type": "video", "entity_id": "v-de"}
        out.append({**view, "country": "DE", "user_id": f"d{i}", "created_at": now.isoformat()})
    return out


def finished(client: httpx.Client, run_id: str) -> dict[str, Any]:
    def done() -> bool:
        status = client.get(f"/api/v1/reports/runs/{run_id}").json()["status"]
        return status in ("done", "partial", "failed")

    wait_until(done, 90, f"report run {run_id} to finish")
    run: dict[str, Any] = client.get(f"/api/v1/reports/runs/{run_id}").json()
    return run


def test_a_trending_pdf_reaches_email_s3_and_a_folder_and_downloads_the_same(
    tmp_path: Path, procs: Callable[..., Proc], s3: S3Server
) -> None:
    smtp = SmtpServer(user="reports", password=SMTP_PASSWORD)
    try:
        _run(tmp_path, procs, s3, smtp)
    finally:
        smtp.stop()


def _run(tmp_path: Path, procs: Callable[..., Proc], s3: S3Server, smtp: SmtpServer) -> None:
    bucket = s3.bucket("weekly")
    port = free_port()
    reports_dir = tmp_path / "reports"
    env = clean_env(
        TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_REPORTS_DIR=str(reports_dir),
        TALLY_ANALYTICS_ON_STARTUP="false", TALLY_TREND_MIN_EVENTS="1",
        TALLY_REPORTS_STORAGE_OPTIONS=json.dumps(s3.options()), TALLY_LOG_LEVEL="DEBUG",
    )  # fmt: skip
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", proc=dev)
    client = api_client(base)

    # Given events, stored and analysed
    now = datetime.now(UTC)
    assert client.post("/api/v1/events", json=events(now)).json()["accepted"] == 66
    client.post("/api/v1/events/flush", params={"wait": True, "timeout_s": 60})
    assert (
        client.post("/api/v1/analytics/run", json={"wait": True, "timeout_s": 60}).status_code
        == 200
    )
    # And an email channel with a password
    mail = {"name": "team-mail", "kind": "email", "host": "127.0.0.1", "port": smtp.port,
            "security": "none", "user": "reports", "password": SMTP_PASSWORD,
            "to": ["team@example.com"], "from": "tally@example.com"}  # fmt: skip
    assert client.post("/api/v1/alerts/channels", json=mail).status_code == 201

    # When "every Monday 08:00 Europe/Paris, trending by country as PDF, to email and S3" is
    # defined, and run now
    report = {
        "name": "weekly trending", "title": "Trending by country",
        "source": {"kind": "trending", "by": "country", "groups": ["fr", "DE"], "limit": 10},
        "format": "pdf", "schedule": {"cron": "0 8 * * 1", "timezone": "Europe/Paris"},
        "deliveries": [{"kind": "email", "channel": "team-mail"},
                       {"kind": "url", "url": f"s3://{bucket}/tally/weekly"},
                       {"kind": "directory", "path": "weekly"}],
    }  # fmt: skip
    created = client.post("/api/v1/reports", json=report)
    assert created.status_code == 201, created.text
    saved = created.json()
    monday = datetime.fromtimestamp(saved["next_run_at"], UTC)
    assert monday.weekday() == 0
    assert monday.hour in (6, 7)  # 08:00 in Paris, summer or winter
    started = client.post(f"/api/v1/reports/{saved['id']}/run")
    assert started.status_code == 202, started.text
    run = finished(client, started.json()["id"])

    # Then the run is done, each target delivered once
    assert run["status"] == "done", run
    assert [d["status"] for d in run["deliveries"]] == ["delivered"] * 3
    download = client.get(f"/api/v1/reports/runs/{run['id']}/file")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    pdf = download.content
    assert len(pdf) == run["size_bytes"]
    import hashlib

    assert hashlib.sha256(pdf).hexdigest() == run["sha256"]
    # And the email's attachment, the object and the folder's copy are the same bytes
    assert len(smtp.messages) == 1
    assert smtp.logins == ["reports"]
    message = email.message_from_bytes(smtp.messages[0].content)  # type: ignore[arg-type]
    assert message["To"] == "team@example.com"
    attached = [p for p in message.walk() if p.get_filename()]
    assert [p.get_filename() for p in attached] == [run["filename"]]
    assert attached[0].get_payload(decode=True) == pdf
    assert s3.keys(bucket) == [f"tally/weekly/{run['filename']}"]
    obj = s3.client().get_object(Bucket=bucket, Key=f"tally/weekly/{run['filename']}")
    assert obj["Body"].read() == pdf
    assert (reports_dir / "weekly" / run["filename"]).read_bytes() == pdf
    # And the PDF reads: its title, the groups, the hot entity on top
    pdf_file = tmp_path / "r.pdf"
    pdf_file.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(pdf_file), "-"], capture_output=True, text=True).stdout
    assert "Trending by country" in text
    assert "country FR" in text
    assert "v-hot" in text
    assert text.index("v-hot") < text.index("country DE")

    # When the same source is rendered in every other format, ad hoc and inline
    for fmt in ("csv", "json", "html"):
        inline = {"name": f"inline {fmt}", "format": fmt,
                  "source": {"kind": "popularity", "by": "country", "limit": 5}}  # fmt: skip
        r = client.post("/api/v1/reports/run", json=inline)
        assert r.status_code == 202, r.text
        done = finished(client, r.json()["id"])
        assert done["status"] == "done", done
        body = client.get(f"/api/v1/reports/runs/{done['id']}/file").content
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(body.decode())))
            assert next(r["entity_id"] for r in rows if r["group"] == "FR") == "v-hot"
            assert {r["group"] for r in rows} == {"FR", "DE"}
        elif fmt == "json":
            doc = orjson.loads(body)
            assert doc["row_count"] == len(doc["rows"]) == done["rows"]
        else:
            assert b"<svg" in body
            assert b'fill="#2563eb"' in body

    # Bad input: 422 naming the field, nothing saved
    bad = [
        ({"name": "b", "source": {"kind": "nope"}}, "source"),
        ({"name": "b", "source": {"kind": "sql", "query": "SELECT 1; DROP TABLE x"}},
         "source.query"),
        ({"name": "b", "source": {"kind": "sql", "query": "ALTER TABLE t DELETE WHERE 1"}},
         "source.query"),
        ({"name": "b", "source": {"kind": "events"}, "schedule": {"cron": "0 0 31 2 *"}},
         "schedule.cron"),
        ({"name": "b", "source": {"kind": "events"},
          "deliveries": [{"kind": "url", "url": "ftpx://host/x"}]}, "deliveries.0.url"),
        ({"name": "b", "source": {"kind": "events"},
          "deliveries": [{"kind": "directory", "path": "../../etc"}]},
         "deliveries.0.directory.path"),
        ({"name": "b", "source": {"kind": "events"}, "deliveries": [{"kind": "email"}]},
         "deliveries.0.to"),
        ({"name": "b", "source": {"kind": "events"}, "title": "{{ broken"}, "title"),
    ]  # fmt: skip
    for definition, field in bad:
        r = client.post("/api/v1/reports", json=definition)
        assert r.status_code == 422, (definition, r.text)
        assert r.json()["error"]["field"] == field, r.text
    assert [r["name"] for r in client.get("/api/v1/reports").json()] == ["weekly trending"]

    # The CLI beside `tally dev`: list, runs, download
    cli_env = env | {"TALLY_URL": base}
    listed = run_tally("reports", "list", env=cli_env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "weekly trending" in listed.stdout
    assert "Europe/Paris" in listed.stdout
    shown = run_tally("reports", "runs", "weekly trending", env=cli_env, cwd=tmp_path)
    assert run["id"] in shown.stdout
    got = run_tally("reports", "download", run["id"], "-o", str(tmp_path / "cli.pdf"),
                    env=cli_env, cwd=tmp_path)  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "cli.pdf").read_bytes() == pdf
    missing = run_tally("reports", "download", "no-such-run", env=cli_env, cwd=tmp_path)
    assert missing.returncode == 1
    assert "no report run" in missing.stderr + missing.stdout
    assert "Traceback" not in missing.stderr

    # The dashboard lists the report, its runs and download links; metrics count them
    browser = httpx.Client(base_url=base, timeout=30)
    browser.post("/login", data={"token": API_TOKEN, "next": "/reports"})
    seen = []
    for path in ("/reports", f"/reports/{saved['id']}"):
        page = browser.get(path)
        assert page.status_code == 200
        assert "weekly trending" in page.text
        assert f"/api/v1/reports/runs/{run['id']}/file" in page.text
        seen.append(page.text)
    assert browser.get(f"/api/v1/reports/runs/{run['id']}/file").content == pdf
    metrics = client.get("/metrics").text
    assert 'tally_report_runs_total{format="pdf",outcome="rendered"} 1.0' in metrics
    assert 'tally_report_deliveries_total{kind="email",outcome="delivered"} 1.0' in metrics
    assert 'tally_report_deliveries_total{kind="url",outcome="delivered"} 1.0' in metrics
    answers = ("/api/v1/reports", f"/api/v1/reports/runs/{run['id']}", "/api/v1/alerts/channels",
               "/api/v1/health", "/metrics")  # fmt: skip
    seen += [client.get(p).text for p in answers]
    dev.stop()
    seen.append(dev.output())
    assert not [s for s in seen if SMTP_PASSWORD in s], "the SMTP password leaked"
    browser.close()
    client.close()
