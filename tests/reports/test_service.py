"""Bad definitions are refused naming the field, and nothing is saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tally.errors import Conflict, ValidationFailed
from tally.infra.metadb.db import MetadataDB
from tally.reports.definitions import ReportIn, Schedule
from tally.reports.sqlguard import check_select
from tests.reports.conftest import service_on, settings_in


def body(**extra: Any) -> dict[str, Any]:
    return {"name": "r", "source": {"kind": "events"}, **extra}


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1",
        "select count() from analytics.user_events;",
        "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
        "SELECT ';' AS semicolon_in_a_string, 'DROP TABLE x' AS words",
        "  (SELECT 1)  -- a comment; with a semicolon",
    ],
)
def test_one_select_is_accepted(query: str) -> None:
    assert check_select(query).lstrip().startswith(("SELECT", "select", "WITH", "("))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELECT 1; SELECT 2", "several_statements"),
        ("SELECT 1; DROP TABLE analytics.user_events", "several_statements"),
        ("INSERT INTO t VALUES (1)", "not_select"),
        ("ALTER TABLE analytics.user_events DELETE WHERE 1", "not_select"),
        ("/* SELECT */ DELETE FROM t WHERE 1", "not_select"),
        ("SELECT 1 SETTINGS readonly=0", "not_allowed"),
        ("SELECT * FROM t INTO OUTFILE '/tmp/x'", "not_allowed"),
        ("SELECT 1 FORMAT Native", "not_allowed"),
    ],
)
def test_anything_but_one_select_is_refused(query: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_select(query)
    assert caught.value.field == "source.query"
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"source": {"kind": "nope"}}, "source"),
        ({"format": "xlsx"}, "format"),
        ({"schedule": {"cron": "0 0 30 2 *"}}, "schedule.cron"),
        ({"schedule": {"cron": "every monday"}}, "schedule.cron"),
        ({"schedule": {"cron": "0 8 * * 1", "timezone": "Mars/Olympus"}}, "schedule.timezone"),
        (
            {"deliveries": [{"kind": "directory", "path": "../../etc"}]},
            "deliveries.0.directory.path",
        ),
        ({"deliveries": [{"kind": "directory", "path": "/etc"}]}, "deliveries.0.directory.path"),
        ({"deliveries": [{"kind": "email", "to": ["not-an-address"]}]}, "deliveries.0.email.to"),
        ({"deliveries": [{"kind": "fax"}]}, "deliveries.0"),
    ],
)
def test_definitions_are_validated_field_by_field(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ReportIn.model_validate(body(**extra))
    where = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
    assert any(w.startswith(field) for w in where), where


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        ({"source": {"kind": "sql", "query": "SELECT 1; SELECT 2"}}, "source.query",
         "several_statements"),
        ({"deliveries": [{"kind": "url", "url": "gopher://x/y"}]}, "deliveries.0.url",
         "unknown_scheme"),
        ({"deliveries": [{"kind": "url", "url": "file:///etc/cron.d"}]}, "deliveries.0.url",
         "outside_reports_dir"),
        ({"deliveries": [{"kind": "url", "url": "s3://bucket/../x"}]}, "deliveries.0.url",
         "path_traversal"),
        ({"deliveries": [{"kind": "email"}]}, "deliveries.0.to", "missing"),
        ({"deliveries": [{"kind": "email", "channel": "nope", "to": ["a@b.c"]}]},
         "deliveries.0.channel", "unknown"),
        ({"deliveries": [{"kind": "email", "to": ["a@b.c"], "subject": "{{ title"}]},
         "deliveries.0.subject", "invalid_template"),
        ({"title": "{% for %}"}, "title", "invalid_template"),
        ({"filename": "{{ name | nosuchfilter }}"}, "filename", "invalid_template"),
    ],
)  # fmt: skip
def test_the_service_refuses_what_the_shape_cannot_tell_and_saves_nothing(
    metadb: MetadataDB, tmp_path: Path, extra: dict[str, Any], field: str, reason: str
) -> None:
    service = service_on(metadb, settings_in(tmp_path))
    with pytest.raises(ValidationFailed) as caught:
        service.create(ReportIn.model_validate(body(**extra)))
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert service.reports() == []


def test_a_directory_link_out_of_the_reports_dir_is_refused(
    metadb: MetadataDB, tmp_path: Path
) -> None:
    settings = settings_in(tmp_path)
    settings.directory.mkdir(parents=True)
    (settings.directory / "out").symlink_to(tmp_path)
    service = service_on(metadb, settings)
    definition = ReportIn.model_validate(body(deliveries=[{"kind": "directory", "path": "out"}]))
    with pytest.raises(ValidationFailed) as caught:
        service.create(definition)
    assert caught.value.reason == "outside_reports_dir"


def test_names_are_unique_and_a_replacement_keeps_the_id(
    metadb: MetadataDB, tmp_path: Path
) -> None:
    service = service_on(metadb, settings_in(tmp_path))
    first = service.create(ReportIn.model_validate(body()))
    with pytest.raises(Conflict):
        service.create(ReportIn.model_validate(body()))
    replaced = service.replace("r", ReportIn.model_validate(body(format="json")))
    assert replaced["id"] == first["id"]
    assert replaced["format"] == "json"


def test_a_paris_schedule_follows_its_clocks_across_summer_time() -> None:
    # Every Monday 08:00 Europe/Paris: 07:00 UTC in winter, 06:00 UTC in summer
    schedule = Schedule(cron="0 8 * * 1", timezone="Europe/Paris")
    before_switch = 1_774_000_000.0  # Fri 2026-03-20
    first = schedule.next_after(before_switch)
    second = schedule.next_after(first)
    assert (first % 86_400) / 3600 == 7.0  # 2026-03-23, CET
    assert (second % 86_400) / 3600 == 6.0  # 2026-03-30, CEST
    assert second - first == 7 * 86_400 - 3600
    assert schedule.last_at_or_before(second) == second


def test_without_weasyprint_pdf_is_refused_naming_what_to_install_and_csv_still_works(
    metadb: MetadataDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a machine where WeasyPrint cannot load (no Pango: `make demo` on a bare machine)
    import sys

    from tally.reports import render

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # `import weasyprint` fails
    render.load_weasyprint.cache_clear()
    try:
        service = service_on(metadb, settings_in(tmp_path))
        # When a PDF report is saved, Then 422 on `format` says what to install
        with pytest.raises(ValidationFailed) as caught:
            service.create(ReportIn.model_validate(body(format="pdf")))
        assert caught.value.field == "format"
        assert "libpango-1.0-0" in caught.value.message
        assert "libpangoft2-1.0-0" in caught.value.message
        # And the other formats are saved as usual
        assert service.create(ReportIn.model_validate(body(format="csv")))["format"] == "csv"
    finally:
        render.load_weasyprint.cache_clear()
