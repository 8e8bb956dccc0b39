"""dbt in-process on the embedded store and on a live ClickHouse server: build, test,
freshness, docs; failures named; bad projects, profiles and selectors refused clearly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tally.dbt.runner import DbtFailed, Selection
from tally.dbt.service import DbtService
from tally.errors import ValidationFailed
from tally.infra.metadb.db import MetadataDB
from tally.settings import DbtSettings, StoreSettings
from tally.store.base import Store
from tally.store.chdb import ChdbStore
from tally.store.clickhouse import ClickHouseStore
from tests.reports.conftest import NAMES, ndjson


def events(days_ago: float, n: int = 30) -> list[dict[str, Any]]:
    at = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    return [{"event_type": "video_view", "entity_type": "video", "entity_id": f"v{i % 4}",
             "country": "FR", "user_id": f"u{i}", "created_at": at} for i in range(n)]  # fmt: skip


@pytest.fixture(params=["chdb", "clickhouse"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, StoreSettings]]:
    """A store holding fresh events, and the settings that name it."""
    opened: Store
    if request.param == "chdb":
        settings = StoreSettings.model_validate({"TALLY_DATA_DIR": str(tmp_path / "data")})
        opened = ChdbStore(settings.chdb_path, NAMES, 10_000)
    else:
        server = request.getfixturevalue("clickhouse_server")
        database = f"dbt_{uuid.uuid4().hex[:8]}"
        settings = StoreSettings.model_validate({"CLICKHOUSE_URL": server.url,
                                                 "CLICKHOUSE_DATABASE": database})  # fmt: skip
        names = type(NAMES)(database=database, table=NAMES.table)
        opened = ClickHouseStore(server.url, names, 10_000)
    opened.upgrade()
    opened.insert_ndjson(ndjson(events(0.1)), dedup_window_s=0)
    yield opened, settings
    opened.close()


def service_for(db: MetadataDB, tmp_path: Path, store: StoreSettings, **extra: Any) -> DbtService:
    settings = DbtSettings.model_validate({"TALLY_DATA_DIR": str(tmp_path / "data"),
                                           "TALLY_DBT_SCHEMA": f"dbt_{uuid.uuid4().hex[:8]}",
                                           **extra})  # fmt: skip
    return DbtService(db, settings, store)


def quiet(_pct: float, _message: str) -> None:
    return None


def test_the_starter_project_builds_green_and_its_nodes_are_logged(
    metadb: MetadataDB, tmp_path: Path, store: tuple[Store, StoreSettings]
) -> None:
    opened, settings = store
    service = service_for(metadb, tmp_path, settings)
    service.init()
    seen: list[float] = []
    # When `dbt build` runs on the starter project
    outcome = service.run("build", opened, Selection(), lambda pct, _m: seen.append(pct), "job-1")
    # Then the model is built and every test passes, and the refresh log has each node
    assert outcome.failed == []
    kinds = sorted(n.resource_type for n in outcome.nodes)
    assert kinds.count("model") == 1
    assert kinds.count("test") >= 5
    schema = service.settings.schema_name
    built = opened.query(f"SELECT sum(events) AS n FROM {schema}.daily_entity_events")
    assert int(built[0]["n"]) == 30
    runs = service.invocations()
    assert runs[0]["command"] == "build"
    assert runs[0]["job_id"] == "job-1"
    assert runs[0]["statuses"] == {"success": 1, "pass": len(outcome.nodes) - 1}
    model = next(n for n in service.nodes(outcome.invocation_id) if n["resource_type"] == "model")
    assert model["execution_time_s"] > 0
    assert seen == sorted(seen)
    assert seen[-1] > 90  # progress per node, up to the last
    # And docs are generated for the docs page
    service.run("docs_generate", opened, Selection(), quiet)
    assert service.docs_file("index.html") is not None
    assert service.docs_file("catalog.json") is not None
    assert service.docs_file("../../etc/passwd") is None


def test_a_failing_test_and_a_stale_source_fail_naming_their_nodes(
    metadb: MetadataDB, tmp_path: Path, store: tuple[Store, StoreSettings]
) -> None:
    opened, settings = store
    service = service_for(metadb, tmp_path, settings)
    service.init()
    (service.project / "tests" / "no_views.sql").write_text(
        "select * from {{ ref('daily_entity_events') }} where events > 0\n"
    )
    with pytest.raises(DbtFailed) as caught:
        service.run("build", opened, Selection(), quiet)
    assert "test.tally_events.no_views" in caught.value.args[0]
    assert "1 failed" in caught.value.args[0]
    statuses = service.invocations()[0]["statuses"]
    assert statuses["fail"] == 1
    # Given only events 5 days old (error_after: 3 days)
    opened.command(f"TRUNCATE TABLE {opened.names.events}")
    opened.insert_ndjson(ndjson(events(5)), dedup_window_s=0)
    with pytest.raises(DbtFailed) as stale:
        service.run("source_freshness", opened, Selection(), quiet)
    assert f"source.tally_events.tally.{opened.names.table}" in stale.value.args[0]
    node = service.nodes(service.invocations()[0]["invocation_id"])[0]
    assert node["status"] == "error"
    assert "s ago" in node["message"]


def test_bad_projects_selectors_and_profiles_are_refused_clearly(
    metadb: MetadataDB, tmp_path: Path
) -> None:
    settings = StoreSettings.model_validate({"TALLY_DATA_DIR": str(tmp_path / "data")})
    opened = ChdbStore(settings.chdb_path, NAMES, 10_000)
    try:
        opened.upgrade()
        service = service_for(metadb, tmp_path, settings)
        with pytest.raises(ValidationFailed) as missing:
            service.run("build", opened, Selection(), quiet)
        assert (missing.value.field, missing.value.reason) == ("DBT_PROJECT_PATH", "missing")
        service.init()
        with pytest.raises(ValidationFailed) as twice:
            service.init()
        assert twice.value.reason == "exists"
        with pytest.raises(ValidationFailed) as nothing:
            service.run("run", opened, Selection(["no_such_model"]), quiet)
        assert (nothing.value.field, nothing.value.reason) == ("select", "matches_nothing")
        # A user's profile whose chdb target is another directory
        profiles = tmp_path / "profiles"
        profiles.mkdir()
        (profiles / "profiles.yml").write_text(
            "tally:\n  target: dev\n  outputs:\n    dev:\n      type: chdb\n"
            f"      path: {tmp_path / 'elsewhere'}\n      schema: x\n"
        )
        mine = service_for(metadb, tmp_path, settings, DBT_PROFILES_DIR=str(profiles))
        with pytest.raises(ValidationFailed) as elsewhere:
            mine.run("build", opened, Selection(), quiet)
        assert elsewhere.value.reason == "points_elsewhere"
        # A broken model: one clear line, not a traceback
        (service.project / "models" / "broken.sql").write_text("select from where (")
        with pytest.raises(DbtFailed) as broken:
            service.run("run", opened, Selection(["broken"]), quiet)
        assert "broken" in broken.value.args[0]
    finally:
        opened.close()
