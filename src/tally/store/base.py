"""The store port: schema upgrade, idempotent batch insert, stats and queries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tally.errors import TallyError
from tally.store import sql
from tally.store.sql import Names


@dataclass(frozen=True, slots=True)
class Exported:
    """What an export wrote: bytes, and rows when the engine counts them (chDB does)."""

    bytes: int
    rows: int | None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What the store holds (SPEC §2): distinct events, time range, bytes on disk.

    `rows` counts physical rows: above `events` only while a copy of an event waits for the
    ReplacingMergeTree merge that drops it (Tally's insert skips known event_ids, so a
    difference means a duplicate got past it).
    """

    events: int
    rows: int
    oldest: str | None
    newest: str | None
    bytes_on_disk: int
    table: str
    backend: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class Store(ABC):
    """Where events end up; every query is ClickHouse SQL, whichever engine runs it."""

    backend: str = "store"
    names: Names
    counts_exported_rows: bool = False  # `export` says how many rows it wrote

    @abstractmethod
    def upgrade(self) -> list[str]:
        """Create or migrate the schema; return the migrations applied (idempotent)."""

    @abstractmethod
    def insert_ndjson(self, ndjson: bytes, dedup_window_s: int) -> int:
        """Insert encoded events, skipping event_ids already stored in the dedup window."""

    @abstractmethod
    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query and return its rows as dicts."""

    @abstractmethod
    def export(
        self,
        sql: str,
        write: Callable[[bytes], None],
        *,
        fmt: str,
        params: dict[str, Any] | None = None,
    ) -> Exported:
        """Stream a query's output in ClickHouse format `fmt` to `write`, block by block.

        Rows are never gathered in Python: the engine formats each block and `write` gets
        its bytes. Row formats only (CSV, CSVWithNames, TSV, JSONEachRow…): a document
        format would be cut per block.
        """

    @abstractmethod
    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing."""

    def stats(self) -> StoreStats:
        """Distinct events stored, their time range and bytes on disk (same SQL everywhere)."""
        row = self.query(sql.stats(self.names))[0]
        size = self.query(sql.bytes_on_disk(self.names))[0]
        return StoreStats(
            events=int(row["events"]),
            rows=int(row["rows"]),
            oldest=row["oldest"],
            newest=row["newest"],
            bytes_on_disk=int(size["bytes"] or 0),
            table=self.names.events,
            backend=self.backend,
        )

    def ping(self) -> bool:
        """True when the store answers a trivial query."""
        try:
            return bool(self.query("SELECT 1 AS ok")[0]["ok"] == 1)
        except TallyError:
            return False

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine or connection."""
