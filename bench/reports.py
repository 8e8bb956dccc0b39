"""Reports: a 1,000,000-row CSV report vs a bare query to a file; a 10-page PDF with charts.

  python bench/reports.py [--rows 1000000] [--dir /tmp/tally-bench-reports]

The events come from bench/analytics.py's generator (chDB). Printed side by side, in one run:
- bare:   the same SELECT through the same store, FORMAT CSVWithNames, the whole answer
          taken in one piece and written to a file (what a script without Tally does);
- report: a `sql` report's run (reports.runs.execute): streamed block by block to a
          temporary file, hashed, rows counted, renamed, recorded in the metadata DB.
Each is the median of 3; the peak RSS growth of this process (the worker) is sampled every
10 ms during each. Then a PDF of a popularity report with 10 groups (a chart and a table of
25 rows each, about 10 pages), rendered by WeasyPrint: median of 3.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from analytics import NAMES, generate
from tally.infra.metadb.db import MetadataDB, database_url
from tally.infra.metadb.migrate import upgrade
from tally.jobs.base import Retention
from tally.jobs.memory import MemoryJobIndex
from tally.reports import runs
from tally.reports.definitions import Format, ReportIn
from tally.reports.render import Meta, render
from tally.reports.sources import Context, Limits, Rows
from tally.settings import ReportsSettings
from tally.store.chdb import ChdbStore

console = Console()
QUERY = (
    "SELECT event_id, event_type, entity_type, entity_id, user_id, country, category, created_at "
    f"FROM {NAMES.events} ORDER BY created_at LIMIT {{rows:UInt64}}"
)


class Peak:
    """The highest RSS of this process above its level at the start, sampled every 10 ms."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self.start = self._proc.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1e6


def timed(fn: Callable[[], None], repeat: int = 3) -> tuple[float, float]:
    """Median seconds and the largest RSS growth (MB) over `repeat` runs."""
    seconds, growth = [], []
    for _ in range(repeat):
        with Peak() as peak:
            started = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - started)
        growth.append(peak.growth_mb)
    return statistics.median(seconds), max(growth)


def bare(store: ChdbStore, rows: int, out: Path) -> None:
    """The baseline: one query, its whole answer in memory, written to a file."""
    text = QUERY.replace("{rows:UInt64}", str(rows))
    data = store._conn.query(text, "CSVWithNames").bytes()  # the engine's own call, no Tally
    out.write_bytes(data)


def report_run(db: MetadataDB, settings: ReportsSettings, ctx: Context, rows: int) -> int:
    """One report run, as the worker's job does it; the file's size."""
    definition = ReportIn.model_validate({"name": "million", "format": "csv", "source": {
        "kind": "sql", "query": QUERY, "params": {"rows": rows}}})  # fmt: skip
    run_id = runs.add_adhoc(db, definition, None, time.time())
    done = runs.execute(db, run_id, settings, ctx, lambda *_: None)
    assert done.outcome == "rendered", done
    return int(done.run["size_bytes"])


def pdf_of_ten_groups() -> tuple[bytes, int]:
    """A popularity PDF: 10 groups of 25 rows, each with its chart; bytes and pages."""
    table = Rows(["group", "rank", "entity_type", "entity_id", "score", "events"])
    for g in range(10):
        first = len(table.rows)
        for rank in range(1, 26):
            table.rows.append([f"C{g}", rank, "video", f"v{g}-{rank}", 1000.0 / rank, 500 - rank])
        table.sections.append((f"country C{g}", first, len(table.rows)))
    out = io.BytesIO()
    meta = Meta("bench", "Popularity by country", None, "popularity", {"by": "country"},
                "2026-12-01T00:00:00Z", None)  # fmt: skip
    render(table, Format.PDF, out, meta, store=None, max_document_rows=1000,
           progress=lambda *_: None)  # fmt: skip
    data = out.getvalue()
    return data, pages_of(data)


def pages_of(pdf: bytes) -> int:
    """Pages of a PDF, as poppler's pdfinfo reads them (0 without poppler-utils)."""
    if shutil.which("pdfinfo") is None:
        return 0
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True)
    found = re.search(rb"^Pages:\s+(\d+)", info.stdout, re.M)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="tally-bench-reports-"))
    chdb_path = root / "chdb"
    console.print(f"generating {args.rows:,} events in {chdb_path} …")
    generate(chdb_path, args.rows, int(time.time() * 1000))
    store = ChdbStore(chdb_path, NAMES, 90)
    db = MetadataDB(database_url(None, root))
    upgrade(db)
    settings = ReportsSettings.model_validate({"TALLY_REPORTS_DIR": str(root / "reports")})
    ctx = Context(lambda: store, NAMES, None, MemoryJobIndex(Retention(60, 10)), {},
                  Limits(args.rows + 1, 600))  # fmt: skip
    out = root / "bare.csv"
    bare(store, args.rows, out)  # warm-up: caches, first read of the parts
    bare_s, bare_mb = timed(lambda: bare(store, args.rows, out))
    sizes: list[int] = []
    report_s, report_mb = timed(lambda: sizes.append(report_run(db, settings, ctx, args.rows)))
    assert sizes[-1] == out.stat().st_size, (sizes[-1], out.stat().st_size)  # the same bytes
    pdf_of_ten_groups()  # warm-up: fonts, WeasyPrint's imports
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        pdf, pages = pdf_of_ten_groups()
        timings.append(time.perf_counter() - started)
    pdf_s = statistics.median(timings)

    table = Table(title=f"reports: {args.rows:,}-row CSV, and a PDF with charts")
    for col in ("what", "seconds", "rows/s", "peak RSS growth (MB)", "target"):
        table.add_column(col, justify="right" if col != "what" else "left")
    table.add_row("bare SELECT … FORMAT CSVWithNames → file", f"{bare_s:.2f}",
                  f"{args.rows / bare_s:,.0f}", f"{bare_mb:.0f}", "baseline")  # fmt: skip
    table.add_row("report run (streamed, hashed, renamed, recorded)", f"{report_s:.2f}",
                  f"{args.rows / report_s:,.0f}", f"{report_mb:.0f}",
                  f"<= 1.5x bare ({report_s / bare_s:.2f}x), <= 100 MB")  # fmt: skip
    table.add_row(f"PDF, {pages} pages, 10 charts (WeasyPrint)", f"{pdf_s:.2f}", "", "",
                  "<= 3 s")  # fmt: skip
    console.print(table)
    console.print(f"CSV file: {sizes[-1] / 1e6:.0f} MB; PDF: {len(pdf) / 1e3:.0f} kB")
    store.close()
    db.close()


if __name__ == "__main__":
    main()
