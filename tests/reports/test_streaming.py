"""A 1,000,000-row CSV report streams from the store to its file (correctness here; memory
and speed are measured by bench/reports.py)."""

from __future__ import annotations

import time
from pathlib import Path

from tally.infra.metadb.db import MetadataDB
from tally.reports import runs
from tally.reports.definitions import ReportIn
from tally.store.chdb import ChdbStore
from tests.reports.conftest import context_of, service_on, settings_in

ROWS = 1_000_000


def test_a_million_row_csv_report_is_complete(
    sqlite_db: MetadataDB, tmp_path: Path, chdb: ChdbStore
) -> None:
    # Given a sql report of a million rows
    query = "SELECT number AS n, toString(number * 7) AS s, number % 13 = 0 AS flag " \
            "FROM numbers({rows:UInt64})"  # fmt: skip
    definition = ReportIn.model_validate({
        "name": "million", "format": "csv",
        "source": {"kind": "sql", "query": query, "params": {"rows": ROWS}},
    })  # fmt: skip
    service = service_on(sqlite_db, settings_in(tmp_path))
    run_id = runs.add_adhoc(sqlite_db, definition, None, time.time())
    seen: list[float] = []
    # When it runs
    done = runs.execute(sqlite_db, run_id, service.settings, context_of(chdb),
                        lambda pct, _msg: seen.append(pct))  # fmt: skip
    # Then the file has the header and every row, in order, and says so
    assert done.outcome == "rendered"
    run = service.run(run_id)
    assert run["rows"] == ROWS
    path = service.file(run_id).path
    with open(path, "rb") as handle:
        assert handle.readline() == b'"n","s","flag"\n'
        assert handle.readline() == b'0,"0",1\n'
        count = 2 + sum(1 for _ in handle)
    assert count == ROWS + 1
    assert path.read_bytes().endswith(b'999999,"6999993",1\n')
    assert seen == sorted(seen)  # progress only moves forward
