"""Every format rendered from known events: CSV and JSON parse back, HTML and PDF read well."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from tally.reports.definitions import EventsSource, Format, ReportIn, SqlSource
from tally.reports.render import Meta, Written, render
from tally.reports.sources import Rows, StoreQuery, events_query, material
from tally.store.chdb import ChdbStore
from tests.reports.conftest import DAY0, context_of

END = "2026-12-01T00:00:00Z"


def events_report(fmt: str = "csv", **source: Any) -> ReportIn:
    """Views and likes by day and event type over the known week."""
    return ReportIn.model_validate({
        "name": "week", "format": fmt,
        "source": {"kind": "events", "start": DAY0.isoformat(), "end": END, **source},
    })  # fmt: skip


def meta(name: str = "week", source: str = "events") -> Meta:
    return Meta(name, "A week of events", None, source, {"dimension": "event_type"},
                "2026-12-01T00:00:00Z", None)  # fmt: skip


def rendered(store: ChdbStore, definition: ReportIn, tmp_path: Path,
             cap: int = 1000) -> tuple[bytes, Written]:  # fmt: skip
    data = material(definition, context_of(store), 0.0)
    out = io.BytesIO()
    written = render(
        data, Format(definition.format), out, meta(source=definition.source.kind),
        store=lambda: store, max_document_rows=cap, progress=lambda *_: None,
    )  # fmt: skip
    return out.getvalue(), written


def test_the_csv_parsed_back_equals_the_query(chdb: ChdbStore, tmp_path: Path) -> None:
    # Given the known week of events and an events report by day x event type
    definition = events_report()
    query = events_query(definition.source, context_of(chdb), 0.0)  # type: ignore[arg-type]
    expected = chdb.query(query.text(), query.params)
    # When it renders as CSV
    data, written = rendered(chdb, definition, tmp_path)
    # Then the parsed rows are the query's rows, counted and hashed
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [list(r) for r in rows[:1]] == [["day", "event_type", "events", "weight", "users"]]
    assert len(rows) == len(expected) == written.rows == 13  # 7 days of views, 6 of likes
    for got, want in zip(rows, expected, strict=True):
        assert got["day"] == want["day"]
        assert got["event_type"] == want["event_type"]
        assert int(got["events"]) == int(want["events"])
        assert float(got["weight"]) == float(want["weight"])
    views = [r for r in rows if r["event_type"] == "video_view"]
    assert [int(r["events"]) for r in views] == list(range(10, 17))
    likes = [r for r in rows if r["event_type"] == "like"]
    assert [float(r["weight"]) for r in likes] == [2.0 * d for d in range(1, 7)]
    assert written.size_bytes == len(data)


def test_csv_rows_are_counted_with_newlines_inside_quoted_values(
    chdb: ChdbStore, tmp_path: Path
) -> None:
    # Given a query whose values hold newlines and quotes
    query = "SELECT number AS n, concat('line one\\nline \"two\"', toString(number)) AS s " \
            "FROM numbers(5000)"  # fmt: skip
    definition = ReportIn.model_validate({"name": "q", "source": {"kind": "sql", "query": query}})
    # When it renders as CSV
    data, written = rendered(chdb, definition, tmp_path)
    # Then the count is of records, and the records parse back whole
    parsed = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert written.rows == len(parsed) - 1 == 5000
    assert parsed[1] == ["0", 'line one\nline "two"0']


def test_json_has_the_parameters_and_every_row_as_numbers(chdb: ChdbStore, tmp_path: Path) -> None:
    # When the events report renders as JSON
    data, written = rendered(chdb, events_report("json"), tmp_path)
    body = orjson.loads(data)
    # Then it is one document: what it is, then every row with numbers as numbers
    assert body["report"] == "week"
    assert body["parameters"] == {"dimension": "event_type"}
    assert body["row_count"] == len(body["rows"]) == written.rows == 13
    first = body["rows"][0]
    assert isinstance(first["events"], int)
    assert {"day", "event_type", "events", "weight", "users"} == set(first)


def test_json_of_a_large_sql_result_streams_every_row(chdb: ChdbStore, tmp_path: Path) -> None:
    definition = ReportIn.model_validate({"name": "big", "format": "json", "source": {
        "kind": "sql", "query": "SELECT number AS n FROM numbers(300000)"}})  # fmt: skip
    data, written = rendered(chdb, definition, tmp_path)
    body = orjson.loads(data)
    assert written.rows == body["row_count"] == 300_000
    assert body["rows"][-1] == {"n": 299_999}


def test_html_has_the_title_parameters_table_and_a_chart_coloured_on_its_elements(
    chdb: ChdbStore, tmp_path: Path
) -> None:
    data, written = rendered(chdb, events_report("html"), tmp_path)
    html = data.decode()
    assert "<h1>A week of events</h1>" in html
    assert "dimension" in html
    assert html.count("<tr>") >= 13
    # the chart: one line per event type, each with its own colour as an attribute
    assert '<polyline points="' in html
    assert 'stroke="#2563eb"' in html
    assert 'stroke="#16a34a"' in html
    assert written.note is None


def test_a_document_of_a_large_result_is_capped_with_a_clear_note(
    chdb: ChdbStore, tmp_path: Path
) -> None:
    query = "SELECT number AS n, number * 2 AS d FROM numbers(50000)"
    definition = ReportIn.model_validate(
        {"name": "big", "format": "html", "source": {"kind": "sql", "query": query}}
    )
    data, written = rendered(chdb, definition, tmp_path, cap=100)
    assert written.rows == 50_000
    assert written.note is not None
    assert "first 100 of 50,000 rows" in written.note
    assert written.note in data.decode()
    assert data.decode().count("<tr>") < 120


needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils")


@needs_poppler
def test_pdf_has_its_pages_and_the_top_entity(chdb: ChdbStore, tmp_path: Path) -> None:
    # Given a ranking of 400 rows (a table spanning pages) as PDF
    rows = Rows(["group", "rank", "entity_type", "entity_id", "score", "events"])
    for i in range(400):
        rows.rows.append(
            ["FR", i + 1, "video", f"top-entity-{i}" if i else "v-best", 1000.0 - i, 5]
        )
    rows.sections.append(("country FR", 0, 400))
    out = io.BytesIO()
    written = render(rows, Format.PDF, out, meta(source="popularity"), store=None,
                     max_document_rows=1000, progress=lambda *_: None)  # fmt: skip
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(out.getvalue())
    # Then pdftoppm makes a page per PDF page (more than one), and pdftotext finds the top one
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    count = int(next(line.split()[-1] for line in info.stdout.splitlines()
                     if line.startswith("Pages:")))  # fmt: skip
    assert len(pages) == count >= 8
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "v-best" in text
    assert "A week of events" in text
    assert written.rows == 400


def test_sql_report_runs_read_only_and_bounded(chdb: ChdbStore) -> None:
    source = SqlSource(kind="sql", query="SELECT {n:UInt32} AS n", params={"n": 7})
    query = material(ReportIn(name="q", source=source), context_of(chdb), 0.0)
    assert isinstance(query, StoreQuery)
    assert "readonly=1" in query.text()
    assert chdb.query(query.text(), query.params) == [{"n": 7}]


def test_events_filters_narrow_the_rows(chdb: ChdbStore, tmp_path: Path) -> None:
    definition = events_report(dimension="country", event_types=["like"], country="fr")
    assert isinstance(definition.source, EventsSource)
    data, _ = rendered(chdb, definition, tmp_path)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert {r["country"] for r in rows} == {"FR"}
    assert sum(int(r["events"]) for r in rows) == sum(range(7))


def test_the_csv_record_counter_is_exact_however_the_bytes_are_cut() -> None:
    # Given CSV with quoted newlines and doubled quotes (what a server streams in any chunks)
    from tally.reports.render import _CsvRows

    text = b'"a","b"\n1,"x\ny"\n2,"say ""hi""\n"\n3,plain\n'
    for size in (1, 2, 3, 5, 7, len(text)):
        counter = _CsvRows()
        for i in range(0, len(text), size):
            counter.feed(text[i : i + size])
        # Then the newlines outside quotes are the header and three records
        assert counter.newlines == 4, size


def test_a_ranking_as_of_a_past_time_without_a_backfill_is_computed_for_the_report(
    chdb: ChdbStore,
) -> None:
    # Given no analytics run published (nor any backfill), and the known week stored
    from datetime import timedelta

    from tally.analytics.params import AnalyticsParams
    from tally.analytics.publish import Publication
    from tally.analytics.service import AnalyticsService
    from tally.cache.memory import MemoryCache
    from tally.reports.rankings import AnalyticsRankings
    from tally.settings import AnalyticsSettings

    params = AnalyticsParams.from_settings(AnalyticsSettings())
    analytics = AnalyticsService(None, Publication(MemoryCache()), params)  # type: ignore[arg-type]
    rankings = AnalyticsRankings(analytics, lambda: chdb)
    # When a popularity report asks for the ranking as of the week's last day
    as_of = DAY0 + timedelta(days=6, hours=13)
    groups = rankings.ranking("popularity", "country", 3, as_of)
    # Then it is computed from the store: v0 leads FR (the likes), nothing is published
    assert groups["FR"][0]["entity_id"] == "v0"
    assert len(groups["FR"]) <= 3
    assert analytics.publication.cache.get(analytics.publication.key("x")) is None
    # And the live ranking, never run, says so
    with pytest.raises(Exception, match="no analytics run yet"):
        rankings.ranking("popularity", "country", 3, None)


def test_a_template_cannot_reach_outside_the_sandbox() -> None:
    from tally.errors import ValidationFailed
    from tally.reports import templating

    with pytest.raises(ValidationFailed) as caught:
        templating.check("{{ ''.__class__.__mro__[1].__subclasses__() }}", "title")
    assert caught.value.reason == "invalid_template"
    assert templating.render("{{ ''.__class__.__mro__ }}", {}) == "{{ ''.__class__.__mro__ }}"
