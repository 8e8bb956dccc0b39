"""The metadata database's schema under Alembic: `tally db upgrade` is idempotent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tally.infra.metadb import migrate
from tally.infra.metadb.db import MetadataDB, database_url
from tests.conftest import clean_env, run_tally


def _tables(db: MetadataDB) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> MetadataDB:
    configured = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    return MetadataDB(database_url(configured, tmp_path))


def test_upgrade_twice_applies_once_and_the_second_changes_nothing(db: MetadataDB) -> None:
    # Given a database never migrated
    assert migrate.current(db) is None
    # When it is upgraded twice
    first = migrate.upgrade(db)
    after_first = _tables(db)
    second = migrate.upgrade(db)
    # Then the first applies every revision, the second nothing, and the schema is the same
    assert first == [
        "metadata 0001 the installation record",
        "metadata 0002 alerts: rules, channels, states, history, the notification outbox "
        "and its attempts",
        "metadata 0003 reports: definitions, runs (one per report and slot) and their deliveries",
        "metadata 0004 dbt: the refresh log, one row per node of each dbt invocation",
        "metadata 0005 maintenance: catalog, query statistics, worker metrics, task statistics, "
        "backups",
    ]
    assert second == []
    assert migrate.current(db) == migrate.head() == "0005"
    assert {"alembic_version", "tally_installation"} <= after_first
    alerts = {"analytics_alerts", "alert_channels", "alert_states", "alert_events",
              "alert_notifications", "alert_delivery_attempts"}  # fmt: skip
    assert alerts <= after_first
    assert {"analytics_reports", "report_runs", "report_deliveries"} <= after_first
    assert "analytics_refresh_log" in after_first
    assert {"analytics_catalog", "query_statistics", "worker_metrics", "task_statistics",
            "backups"} <= after_first  # fmt: skip
    assert _tables(db) == after_first
    with db.session() as session:
        rows = session.execute(sa.text("SELECT id, tally_version FROM tally_installation")).all()
    assert [tuple(r) for r in rows] == [(1, "0.1.0")]
    db.close()


def _db_upgrade(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_tally("db", "upgrade", env=env, cwd=cwd)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_tally_db_upgrade_upgrades_store_and_metadata_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Given an embedded deployment whose metadata DB is SQLite or PostgreSQL
    extra = {"TALLY_DATA_DIR": str(tmp_path / "data"), "TALLY_ANALYTICS_ON_STARTUP": "false"}
    if backend == "postgresql":
        extra["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    env = clean_env(**extra)
    # When `tally db upgrade` runs twice
    first = _db_upgrade(env, tmp_path)
    second = _db_upgrade(env, tmp_path)
    # Then the first reports the metadata revision it applied, the second nothing
    assert first.returncode == 0, first.stdout + first.stderr
    assert "applied metadata 0001" in first.stdout
    assert "applied metadata 0002" in first.stdout
    assert "applied metadata 0003" in first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "up to date" in second.stdout
    assert "Traceback" not in first.stderr + second.stderr
