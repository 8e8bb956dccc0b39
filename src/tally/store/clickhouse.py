"""ClickHouse server store through clickhouse-connect; the same SQL as the chDB store."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tally.errors import StoreError, StoreUnavailable
from tally.store import lookups, migrations, sql
from tally.store.base import Exported, Store
from tally.store.errors import clickhouse_errors


class ClickHouseStore(Store):
    """A ClickHouse server; many workers may share it (it is not single-writer)."""

    backend = "clickhouse"

    def __init__(
        self,
        url: str,
        names: sql.Names,
        retention_days: int,
        *,
        user: str | None = None,
        password: str = "",
    ) -> None:
        import clickhouse_connect

        self.names = names
        self.retention_days = retention_days
        # No session: a session runs one query at a time, and one client serves a worker's
        # threads (a flush beside an alerts evaluation was refused "concurrent queries within
        # the same session"). Nothing here needs session state.
        kwargs: dict[str, Any] = {"dsn": url, "autogenerate_session_id": False}
        if user:
            kwargs["username"] = user  # CLICKHOUSE_USER; a user in the URL wins otherwise
        if password:
            kwargs["password"] = password  # from the environment only, never the URL we log
        try:
            with clickhouse_errors("cannot reach ClickHouse"):
                self._client = clickhouse_connect.get_client(**kwargs)
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from None

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with clickhouse_errors():
            return fn(*args, **kwargs)

    def upgrade(self) -> list[str]:
        applied = migrations.upgrade(self, self.names, self.retention_days)
        self.drop_stale_stages()
        return applied

    def command(self, sql_text: str, params: dict[str, Any] | None = None) -> None:
        self._call(self._client.command, sql_text, parameters=params)

    def query(self, sql_text: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self._call(self._client.query, sql_text, parameters=params)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    def export(
        self,
        sql_text: str,
        write: Callable[[bytes], None],
        *,
        fmt: str,
        params: dict[str, Any] | None = None,
    ) -> Exported:
        written = 0
        with clickhouse_errors():
            stream: Any = self._client.raw_stream(sql_text, parameters=params, fmt=fmt)
            with stream:
                for chunk in stream:
                    if chunk:
                        write(chunk)
                        written += len(chunk)
        return Exported(written, None)  # the HTTP answer carries no row count at its end

    def insert_ndjson(self, ndjson: bytes, dedup_window_s: int) -> int:
        if not ndjson:
            return 0
        # The batch goes over once and is parsed once, into a Memory table of this flush's
        # own; the names and the events are then read from it. Sent as external data to each
        # statement instead, it was parsed three times: 0.27x a bare insert (issue 18).
        stage = self.names.stage_for(uuid.uuid4().hex[:16])
        self.command(sql.create_stage(stage))
        try:
            self._call(self._client.raw_insert, stage, insert_block=ndjson, fmt="JSONEachRow",
                       settings={"input_format_skip_unknown_fields": 0})  # fmt: skip
            # The names first, then the events (store.lookups).
            for statement in lookups.record_names(self.names, stage, sql.BATCH_DAY):
                self.command(statement)
            summary = self._call(
                self._client.command, sql.insert_batch(self.names, stage, dedup_window_s)
            )
        finally:
            self.command(f"DROP TABLE IF EXISTS {stage} SYNC")
        return int(getattr(summary, "written_rows", 0) or 0)

    def drop_stale_stages(self, older_than_s: int = 3600) -> int:
        """Drop stage tables a crashed flush left behind; how many."""
        rows = self.query(
            "SELECT name FROM system.tables WHERE database = {db:String} "
            "AND startsWith(name, {prefix:String}) "
            "AND metadata_modification_time < now() - toIntervalSecond({age:UInt32})",
            {"db": self.names.database, "prefix": f"{sql.STAGE_PREFIX}_", "age": older_than_s},
        )
        for row in rows:
            self.command(f"DROP TABLE IF EXISTS {self.names.database}.{row['name']} SYNC")
        return len(rows)

    def close(self) -> None:
        self._client.close()
