"""The ClickHouse-server adapter's own concerns, on the live server: users and passwords."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from tally.errors import StoreError, StoreUnavailable
from tally.runtime.factory import build_store
from tally.settings import StoreSettings, redact_url
from tally.store import sql
from tally.store.clickhouse import ClickHouseStore
from tally.store.sql import Names
from tests.clickhouse_server import PASSWORD
from tests.conftest import free_port


def _count(settings: StoreSettings) -> int:
    store = build_store(settings)
    try:
        return int(store.query("SELECT count() AS n FROM system.one")[0]["n"])
    finally:
        store.close()


def test_a_password_user_in_the_url_and_in_the_seed_variables(clickhouse_server: Any) -> None:
    port = clickhouse_server.http_port
    # CLICKHOUSE_URL with a user and a password
    url = f"http://tally:{PASSWORD}@127.0.0.1:{port}"
    assert _count(StoreSettings(clickhouse_url=SecretStr(url))) == 1
    assert PASSWORD not in redact_url(url)
    # The seed's CLICKHOUSE_HOST / PORT / USER / PASSWORD
    seed = StoreSettings(
        clickhouse_host="127.0.0.1",
        clickhouse_port=port,
        clickhouse_user="tally",
        clickhouse_password=SecretStr(PASSWORD),
    )
    assert _count(seed) == 1
    assert PASSWORD not in str(seed.model_dump())


def test_a_wrong_password_or_a_closed_port_is_one_clear_error_without_the_secret(
    clickhouse_server: Any,
) -> None:
    wrong = StoreSettings(
        clickhouse_host="127.0.0.1",
        clickhouse_port=clickhouse_server.http_port,
        clickhouse_user="tally",
        clickhouse_password=SecretStr("not-the-pw-33"),
    )
    with pytest.raises((StoreError, StoreUnavailable)) as raised:
        _count(wrong)
    assert "not-the-pw-33" not in str(raised.value)
    assert "tally" in str(raised.value) or "password" in str(raised.value).lower()
    closed = StoreSettings(clickhouse_url=SecretStr(f"http://u:pw-55@127.0.0.1:{free_port()}"))
    with pytest.raises(StoreUnavailable) as down:
        _count(closed)
    assert "pw-55" not in str(down.value)


def test_a_stage_left_by_a_crashed_flush_is_dropped_at_upgrade(clickhouse_server: Any) -> None:
    # Given a server store, and the stage table a flush killed mid-insert leaves behind
    names = Names(database=f"stale_{uuid.uuid4().hex[:8]}", table="user_events")
    store = ClickHouseStore(clickhouse_server.url, names, 90)
    try:
        store.upgrade()
        store.command(sql.create_stage(names.stage_for("crashed")))
        mine = sql.create_stage(names.stage_for("running"))
        time.sleep(3.1)  # the table times are whole seconds
        store.command(mine)  # a flush running now: younger than the age limit
        # When stale stages are dropped, then only the old one goes
        assert store.drop_stale_stages(older_than_s=2) == 1
        left = store.query(
            "SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name",
            {"db": names.database},
        )
        assert [r["name"] for r in left if r["name"].startswith(sql.STAGE_PREFIX)] == [
            f"{sql.STAGE_PREFIX}_running"
        ]
    finally:
        store.command(f"DROP DATABASE IF EXISTS {names.database}")
        store.close()
