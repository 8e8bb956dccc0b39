"""Rendering a report to a file: CSV and JSON streamed, HTML and PDF as a capped document."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tally.errors import PdfUnavailable
from tally.reports import charts
from tally.reports.definitions import Format
from tally.reports.sources import Material, Rows, StoreQuery
from tally.store.base import Store

Progress = Callable[[float, str], None]
_TEMPLATES = Path(__file__).parent / "templates"
_JSON_SETTINGS = "output_format_json_quote_64bit_integers=0, output_format_json_quote_denormals=1"


@dataclass(frozen=True, slots=True)
class Meta:
    """What a document says about itself: title, source, parameters and when."""

    name: str
    title: str
    description: str | None
    source: str
    parameters: dict[str, Any]
    generated_at: str
    slot: str | None


@dataclass(frozen=True, slots=True)
class Written:
    """A rendered file: rows, bytes, SHA-256 and a note when a document shows only part."""

    rows: int
    size_bytes: int
    sha256: str
    note: str | None


class _Counted:
    """A binary file that hashes and counts what goes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        self._out.write(data)


class _CsvRows:
    """Counts CSV records in streamed bytes: newlines outside quoted fields."""

    def __init__(self) -> None:
        self.newlines = 0
        self._quoted = False

    def feed(self, data: bytes) -> None:
        if b'"' not in data:
            if not self._quoted:
                self.newlines += data.count(b"\n")
            return
        parts = data.split(b'"')
        self.newlines += sum(p.count(b"\n") for p in parts[1 if self._quoted else 0 :: 2])
        if (len(parts) - 1) % 2:
            self._quoted = not self._quoted


def render(
    material: Material,
    fmt: Format,
    out: BinaryIO,
    meta: Meta,
    *,
    store: Callable[[], Store] | None,
    max_document_rows: int,
    progress: Progress,
) -> Written:
    """Write the report in `fmt` to `out` and say what was written."""
    counted = _Counted(out)
    note = None
    if fmt is Format.CSV:
        rows = _csv(material, counted, store, progress)
    elif fmt is Format.JSON:
        rows = _json(material, counted, meta, store, progress)
    else:
        progress(20, "reading the rows the document shows")
        columns, shown, rows = _head(material, store, max_document_rows)
        if rows > len(shown):
            note = (f"This {fmt.value.upper()} shows the first {len(shown):,} of {rows:,} rows; "
                    "the CSV or JSON format of this report has them all.")  # fmt: skip
        progress(50, "drawing the charts")
        html = document(material, columns, shown, meta, note)
        if fmt is Format.HTML:
            counted.write(html.encode())
        else:
            progress(70, "laying out the PDF")
            counted.write(pdf(html))
    return Written(rows, counted.size, counted.sha.hexdigest(), note)


def _need(store: Callable[[], Store] | None) -> Store:
    if store is None:
        raise RuntimeError("this worker has no store to read the report from")
    return store()


def _csv(material: Material, out: _Counted, store: Callable[[], Store] | None,
         progress: Progress) -> int:  # fmt: skip
    if isinstance(material, Rows):
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(material.columns)
        writer.writerows([[_plain(v) for v in row] for row in material.rows])
        out.write(text.getvalue().encode())
        return len(material.rows)
    counter = _CsvRows()
    progress(10, "streaming rows from the store")
    engine = _need(store)
    if engine.counts_exported_rows:
        done = engine.export(material.text(), out.write, fmt="CSVWithNames", params=material.params)
        assert done.rows is not None
        return done.rows

    def write(data: bytes) -> None:
        counter.feed(data)
        out.write(data)

    engine.export(material.text(), write, fmt="CSVWithNames", params=material.params)
    return max(0, counter.newlines - 1)  # the header


def _json(material: Material, out: _Counted, meta: Meta, store: Callable[[], Store] | None,
          progress: Progress) -> int:  # fmt: skip
    head = {
        "report": meta.name, "title": meta.title, "source": meta.source,
        "generated_at": meta.generated_at, "slot": meta.slot, "parameters": meta.parameters,
    }  # fmt: skip
    out.write(orjson.dumps(head)[:-1] + b',"rows":[\n')
    if isinstance(material, Rows):
        lines = [orjson.dumps(dict(zip(material.columns, r, strict=True)), default=str)
                 for r in material.rows]  # fmt: skip
        out.write(b",\n".join(lines))
        rows = len(lines)
    else:
        rows, carry = 0, b""
        progress(10, "streaming rows from the store")

        def write(data: bytes) -> None:
            # JSONEachRow escapes newlines inside values: each b"\n" ends a row.
            nonlocal rows, carry
            data = carry + data
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                return
            complete, carry = data[:cut], data[cut + 1 :]
            out.write((b",\n" if rows else b"") + complete.replace(b"\n", b",\n"))
            rows += complete.count(b"\n") + 1

        settings = ", ".join(s for s in (material.settings, _JSON_SETTINGS) if s)
        query = StoreQuery(material.sql, material.params, settings)
        _need(store).export(query.text(), write, fmt="JSONEachRow", params=material.params)
        if carry.strip():
            out.write((b",\n" if rows else b"") + carry.strip())
            rows += 1
    out.write(b'\n],"row_count":' + str(rows).encode() + b"}\n")
    return rows


def _head(material: Material, store: Callable[[], Store] | None,
          cap: int) -> tuple[list[str], list[list[Any]], int]:  # fmt: skip
    if isinstance(material, Rows):
        return material.columns, material.rows[:cap], len(material.rows)
    return material.head(_need(store), cap)


@functools.cache
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["cell"] = _cell
    return env


def document(
    material: Material, columns: list[str], rows: list[list[Any]], meta: Meta, note: str | None
) -> str:
    """The HTML document: title, parameters, a chart and a table per section."""
    if isinstance(material, Rows) and material.sections:
        sections = [
            {"title": title, "rows": rows[a:b], "chart": chart_for(meta.source, columns,
                                                                   rows[a:b], title)}
            for title, a, b in material.sections
            if a < len(rows) or a == b
        ]  # fmt: skip
    else:
        sections = [{"title": "results", "rows": rows,
                     "chart": chart_for(meta.source, columns, rows, meta.title)}]  # fmt: skip
    parameters = [(k, _plain(v)) for k, v in meta.parameters.items() if v not in (None, [], "")]
    return _env().get_template("report.html").render(
        title=meta.title, description=meta.description, source=meta.source,
        generated_at=meta.generated_at, slot=meta.slot, parameters=parameters, note=note,
        sections=sections, columns=columns,
    )  # fmt: skip


def chart_for(source: str, columns: list[str], rows: list[list[Any]], title: str) -> str:
    """The chart a source's rows call for ("" when there is nothing to draw)."""
    if not rows:
        return ""
    at = {c: i for i, c in enumerate(columns)}
    if source in ("popularity", "trending"):
        value = "score" if source == "popularity" else "trend_score"
        bars = [(f"{r[at['entity_type']]}:{r[at['entity_id']]}", float(r[at[value]] or 0))
                for r in rows[:15]]  # fmt: skip
        return charts.bars(bars, title=f"{value} — {title}")
    if source == "jobs":
        return charts.bars([(str(r[0]), float(r[1])) for r in rows[:25]], title="runs per task")
    if source == "events" and len(columns) >= 3:
        return _events_chart(columns, rows)
    numeric = [i for i, v in enumerate(rows[0]) if isinstance(v, int | float) and i > 0]
    if numeric:
        i = numeric[0]
        bars = [(str(r[0]), float(r[i] or 0)) for r in rows[:25]]
        return charts.bars(bars, title=f"{columns[i]} by {columns[0]}")
    return ""


def _events_chart(columns: list[str], rows: list[list[Any]]) -> str:
    days = sorted({str(r[0]) for r in rows})
    totals: dict[str, float] = {}
    by: dict[tuple[str, str], float] = {}
    for r in rows:
        key = str(r[1])
        totals[key] = totals.get(key, 0.0) + float(r[2])
        by[(key, str(r[0]))] = float(r[2])
    top = sorted(totals, key=lambda k: -totals[k])[:6]
    series = [(k or "(none)", [by.get((k, d), 0.0) for d in days]) for k in top]
    return charts.lines(days, series, title=f"events per day by {columns[1]}")


def pdf(html: str) -> bytes:
    """The document as a PDF (WeasyPrint: no browser)."""
    weasy = load_weasyprint()
    result: bytes = weasy.HTML(string=html).write_pdf()
    return result


@functools.cache
def load_weasyprint() -> Any:
    """The weasyprint module; PdfUnavailable naming what to install when it cannot load."""
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)  # per-glyph notices, not news
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(str(exc).splitlines()[0][:200]) from None
    return weasyprint


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(_plain(value))
