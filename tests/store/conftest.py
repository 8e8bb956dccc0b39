"""The store's contract runs on each adapter: chDB, and a live ClickHouse server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tally.store.base import Store
from tally.store.chdb import ChdbStore
from tally.store.clickhouse import ClickHouseStore
from tally.store.sql import Names

NAMES = Names(database="analytics", table="user_events")
OpenStore = Callable[..., Store]


@pytest.fixture(params=["chdb", "clickhouse"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Open a store (`open_store(retention_days)`) of this run's kind; closed afterwards.

    The server is shared by the session, so each test starts from a database of its own.
    """
    opened: list[Store] = []
    server: Any = None
    if request.param == "clickhouse":
        server = request.getfixturevalue("clickhouse_server")
        ClickHouseStore(server.url, NAMES, 90).command(f"DROP DATABASE IF EXISTS {NAMES.database}")

    def open_one(retention_days: int = 90) -> Store:
        store: Store
        if server is None:
            store = ChdbStore(tmp_path / "chdb", NAMES, retention_days)
        else:
            store = ClickHouseStore(server.url, NAMES, retention_days)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> Store:
    """An upgraded store of this run's kind."""
    s = open_store()
    s.upgrade()
    return s
