"""A dbt adapter for the embedded store: dbt-clickhouse's, with chDB as its client.

dbt-clickhouse speaks HTTP or the native protocol only; the embedded store has neither.
This plugin (`type: chdb`) subclasses its credentials, client and connection manager and
changes only how the client is made: clickhouse-connect's in-process chDB client, on the
store's own directory. Every dbt-clickhouse macro is reused (the plugin depends on it).
It must run inside the process that owns the store: chDB allows one engine per process.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADAPTER = "chdb"
INCLUDE = Path(__file__).parent / "include"


def install() -> None:
    """Make `type: chdb` known to dbt in this process (once)."""
    name = f"dbt.adapters.{ADAPTER}"
    if name in sys.modules:
        return
    # Through Any: dbt-clickhouse's classes are subclassed, not type-checked, here.
    base: Any = importlib.import_module("dbt.adapters.base")
    clickhouse: Any = importlib.import_module("dbt.adapters.clickhouse")
    connections: Any = importlib.import_module("dbt.adapters.clickhouse.connections")
    credentials: Any = importlib.import_module("dbt.adapters.clickhouse.credentials")
    http: Any = importlib.import_module("dbt.adapters.clickhouse.httpclient")
    about_ch: Any = importlib.import_module("dbt.adapters.clickhouse.__version__")

    @dataclass
    class ChdbCredentials(credentials.ClickHouseCredentials):  # type: ignore[misc]
        """The store's directory (`path`) and its chDB options instead of a host."""

        path: str = ""
        config_file: str = ""

        @property
        def type(self) -> str:
            return ADAPTER

        @property
        def unique_field(self) -> str:
            return self.path

        def _connection_keys(self) -> tuple[str, ...]:
            return ("path", "schema")

    class ChdbClient(http.ChHttpClient):  # type: ignore[misc]
        def _create_client(self, credentials: Any) -> Any:
            import clickhouse_connect

            # The same connection string as the store's: chDB compares it literally.
            location = f"file:{credentials.path}?config-file={credentials.config_file}"
            return clickhouse_connect.get_client(
                interface="chdb", path=location, settings=self._conn_settings
            )

    class ChdbConnectionManager(connections.ClickHouseConnectionManager):  # type: ignore[misc]
        TYPE = ADAPTER

        @classmethod
        def open(cls, connection: Any) -> Any:
            if connection.state == "open":
                return connection
            credentials = cls.get_credentials(connection.credentials)
            return cls.retry_connection(
                connection, connect=lambda: ChdbClient(credentials), logger=connections.logger,
                retry_limit=0, retryable_exceptions=(),
            )  # fmt: skip

    class ChdbAdapter(clickhouse.ClickHouseAdapter):  # type: ignore[misc]
        ConnectionManager = ChdbConnectionManager

        @classmethod
        def type(cls) -> str:
            return ADAPTER

    module = types.ModuleType(name)
    module.__path__ = []  # a package, as dbt looks for `<adapter>.__version__` in it
    module.Plugin = base.AdapterPlugin(  # type: ignore[attr-defined]
        adapter=ChdbAdapter, credentials=ChdbCredentials, include_path=str(INCLUDE),
        dependencies=["clickhouse"],  # dbt-clickhouse's macros, found through the dependency
    )  # fmt: skip
    about = types.ModuleType(f"{name}.__version__")
    about.version = about_ch.version  # type: ignore[attr-defined]
    sys.modules[name] = module
    sys.modules[about.__name__] = about
