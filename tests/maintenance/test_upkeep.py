"""Catalog, query statistics, task statistics and cleanup match what the test did."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from tally.alerts import tables as alert_tables
from tally.dbt import tables as dbt_tables
from tally.infra.metadb.db import MetadataDB
from tally.jobs.base import Retention
from tally.jobs.housekeeping import run_all
from tally.jobs.memory import MemoryJobIndex
from tally.jobs.record import JobRecord, Status
from tally.jobs.resources import Resources
from tally.maintenance import catalog, monitoring, querystats
from tally.maintenance import tables as t
from tally.maintenance.service import MaintenanceService
from tally.maintenance.tasks import Context
from tally.settings import AlertsSettings, DbtSettings, MaintenanceSettings, StoreSettings
from tally.store.chdb import ChdbStore
from tests.reports.conftest import NAMES, known_events

HOUR = 3600.0


def test_the_catalog_lists_each_table_with_its_rows_and_parts(
    metadb: MetadataDB, chdb: ChdbStore
) -> None:
    rows = catalog.read(chdb)
    with metadb.session() as session:
        catalog.replace(session.connection(), rows)
        listed = catalog.listing(session.connection())
    events = next(r for r in listed if r["table_name"] == NAMES.table)
    assert events["database_name"] == NAMES.database
    assert events["engine"] == "ReplacingMergeTree"
    assert events["rows"] == len(known_events())
    assert events["bytes_on_disk"] > 0
    assert events["parts"] >= 1
    assert events["partitions"] == 7  # a partition per day, seven days
    assert {r["table_name"] for r in listed} >= {NAMES.table, f"{NAMES.table}_entity_names"}
    assert not [r for r in listed if r["database_name"] == "system"]


def test_query_statistics_count_calls_per_normalised_query(
    metadb: MetadataDB, chdb: ChdbStore
) -> None:
    since = time.time() - 60
    for n in range(7):  # the same query with other literals: one normalised query
        chdb.query(f"SELECT count() AS c FROM {NAMES.events} WHERE country = 'FR{n}'")
    chdb.query(f"SELECT sleepEachRow(0.05), entity_id FROM {NAMES.events} LIMIT 4")
    rows = querystats.read(chdb, since - since % HOUR)
    with metadb.session() as session:
        querystats.upsert(session.connection(), rows)
        querystats.upsert(session.connection(), rows)  # read again: the hour is replaced
        frequent = querystats.top(session.connection(), since=since - HOUR, by="frequent")
        slowest = querystats.top(session.connection(), since=since - HOUR, by="slowest")
    counted = next(q for q in frequent if "WHERE country = ?" in q["query"])
    assert counted["calls"] == 7
    assert "sleepEachRow" in slowest[0]["query"]
    assert slowest[0]["max_ms"] >= 150


def test_task_statistics_per_hour_match_the_jobs(metadb: MetadataDB) -> None:
    now = time.time()
    hour = now - now % HOUR
    records = []
    for i, (status, took, attempts) in enumerate(
        [(Status.SUCCEEDED, 1.0, 1), (Status.SUCCEEDED, 3.0, 2), (Status.FAILED, 2.0, 3)]
    ):
        records.append(JobRecord(
            job_id=f"j{i}", task="t.a", queue="default", status=status, attempts=attempts,
            started_at=hour + 10, finished_at=hour + 10 + took,
        ))  # fmt: skip
    records.append(JobRecord(
        job_id="old", task="t.a", queue="default", status=Status.SUCCEEDED,
        started_at=hour - 5 * HOUR, finished_at=hour - 5 * HOUR + 1,
    ))  # fmt: skip
    with metadb.session() as session:
        monitoring.task_statistics(session.connection(), records, hour - HOUR, now)
        rows = monitoring.task_rows(session.connection(), hour - HOUR)
    assert len(rows) == 1
    row = rows[0]
    assert (row["task"], row["hour"], row["runs"], row["succeeded"], row["failed"]) == (
        "t.a", hour, 3, 2, 1)  # fmt: skip
    assert row["retries"] == 3
    assert row["p50_s"] == 2.0


def test_cleanup_removes_exactly_what_is_past_each_retention(
    metadb: MetadataDB, tmp_path: Path
) -> None:
    import tally.alerts.tasks
    import tally.dbt.tasks
    import tally.maintenance.tasks  # noqa: F401 - each registers its purge
    from tally.alerts.service import AlertsService
    from tally.dbt.service import DbtService

    now = time.time()
    day = 86_400.0
    index = MemoryJobIndex(Retention(10**9, 10**6))
    for job_id, age in (("old", 9 * day), ("new", 1 * day)):
        index.create(JobRecord(job_id=job_id, task="x", queue="default", created_at=now - age))
        index.transition(job_id, Status.RUNNING)
        index.transition(job_id, Status.SUCCEEDED, finished_at=now - age)
    with metadb.session() as session:
        conn = session.connection()
        for age in (40 * day, 1 * day):  # metrics: kept 30 days
            conn.execute(
                sa.insert(t.worker_metrics).values(at=now - age, process="w", role="worker")
            )
        for age in (100 * day, 10 * day):  # alert history: 90 days; refresh log: 90 days
            change = {"rule_id": 1, "group_key": "", "at": now - age, "from_state": "ok",
                      "to_state": "firing"}  # fmt: skip
            conn.execute(sa.insert(alert_tables.events).values(**change))
            conn.execute(sa.insert(dbt_tables.refresh_log).values(
                invocation_id=f"i{age}", command="run", node_id="model.a", resource_type="model",
                status="success", created_at=now - age))  # fmt: skip
    maintenance = MaintenanceService(metadb, MaintenanceSettings(), None, tmp_path, tmp_path)  # type: ignore[arg-type]
    context = Context(None, index, NAMES, metadb.url, 7 * day, lambda: None)  # type: ignore[arg-type]
    alerts = AlertsService(metadb, AlertsSettings(), None, None, "http://x")  # type: ignore[arg-type]
    dbt = DbtService(metadb, DbtSettings(), StoreSettings())
    removed, _errors = run_all(Resources(maintenance, context, alerts, dbt), now)
    assert removed["jobs.history"] == 1
    assert removed["monitoring.worker_metrics"] == 1
    assert removed["alerts.history"] == 1
    assert removed["dbt.refresh_log"] == 1
    assert index.get("new") is not None
    assert index.get("old") is None
    with metadb.session() as session:
        conn = session.connection()
        assert conn.execute(sa.select(sa.func.count()).select_from(t.worker_metrics)).scalar() == 1
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(alert_tables.events)).scalar() == 1
        )
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(dbt_tables.refresh_log)).scalar()
            == 1
        )
