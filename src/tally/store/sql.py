"""The ClickHouse SQL Tally runs, shared by the chDB and server adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tally.events.schema import COLUMNS

# How a batch arrives in the insert query: the NDJSON the buffer holds, one column per field.
BATCH_STRUCTURE: Final = ", ".join(
    f"{c} Int64" if c == "created_at" else f"{c} String" for c in COLUMNS
)

# The day of an event as a batch holds it (created_at in epoch milliseconds).
BATCH_DAY: Final = "toDate(fromUnixTimestamp64Milli(created_at, 'UTC'))"


# Stage tables are named from this; a server's leftovers (a crashed flush) are found by it.
STAGE_PREFIX: Final = "tally_flush_stage"


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class Names:
    """Fully qualified names of Tally's objects in the store."""

    database: str
    table: str

    @property
    def events(self) -> str:
        """The raw events table."""
        return f"{self.database}.{self.table}"

    @property
    def stage(self) -> str:
        """The in-memory table a chDB flush parses its batch into (not a migration)."""
        return f"{self.database}.{STAGE_PREFIX}"

    def stage_for(self, token: str) -> str:
        """A server flush's own stage (several workers may flush one server at once)."""
        return f"{self.database}.{STAGE_PREFIX}_{token}"

    @property
    def resort(self) -> str:
        """Where a migration builds the events table anew before swapping it in."""
        return f"{self.database}.{self.table}_resort"

    @property
    def entity_names(self) -> str:
        """Entity names by key (store.lookups), so analytics need not carry strings."""
        return f"{self.database}.{self.table}_entity_names"

    @property
    def category_names(self) -> str:
        """Category names by key (store.lookups)."""
        return f"{self.database}.{self.table}_category_names"

    @property
    def data_tables(self) -> tuple[str, str, str]:
        """The events table and the lookups written beside it."""
        return (self.events, self.entity_names, self.category_names)

    @property
    def migrations(self) -> str:
        """The table recording applied schema migrations."""
        return f"{self.database}.tally_schema_migrations"


def _events_table(table: str, retention_days: int, layout: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {table} (
    event_id UUID,
    event_type LowCardinality(String),
    entity_type LowCardinality(String),
    entity_id String,
    user_id String,
    session_id String,
    country LowCardinality(String),
    category LowCardinality(String),
    event_metadata String,
    ip_address String,
    user_agent String,
    referrer String,
    created_at DateTime64(3, 'UTC'),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_inserted_at inserted_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
{layout}
TTL toDateTime(created_at) + INTERVAL {int(retention_days)} DAY
"""


# Schema 1: a month per partition, each day's events in event_id order.
LAYOUT_V1: Final = "PARTITION BY toYYYYMM(created_at)\nORDER BY (toDate(created_at), event_id)"
# Schema 2: a day per partition, its events in entity order. The analytics aggregation then
# meets an entity's events together, so its hash-table cells stay in the CPU cache: the
# 10M-event run takes 0.5 s instead of 0.8 s (README, Performance). A 3-day window reads 3 or 4
# day partitions. Same-day copies of an event (same entity, same event_id) collapse on merge;
# the insert already skips copies inside the dedup window.
LAYOUT: Final = "PARTITION BY toDate(created_at)\nORDER BY (entity_type, entity_id, event_id)"


def create_events_table(names: Names, retention_days: int) -> str:
    """DDL of the raw events table (seed 000's `user_events`), as schema 1 created it."""
    return _events_table(names.events, retention_days, LAYOUT_V1)


def resort_events_table(names: Names, retention_days: int) -> list[str]:
    """Rebuild the events table in LAYOUT: copy, swap, drop; safe to repeat after a crash.

    A repeat drops what a crashed attempt left under the `resort` name (a partial copy, or the
    old table once swapped) and copies again from the live table, which is never touched
    until the swap.
    """
    return [
        f"DROP TABLE IF EXISTS {names.resort}",
        _events_table(names.resort, retention_days, LAYOUT),
        f"INSERT INTO {names.resort} SELECT * FROM {names.events} "
        "SETTINGS max_partitions_per_insert_block = 0",
        f"EXCHANGE TABLES {names.events} AND {names.resort}",
        f"DROP TABLE {names.resort}",
    ]


def create_stage(table: str) -> str:
    """The Memory table holding one batch as the buffer encodes it, between parse and insert."""
    return f"CREATE TABLE IF NOT EXISTS {table} ({BATCH_STRUCTURE}) ENGINE = Memory"


def fill_stage(names: Names, path: str) -> str:
    """Parse an NDJSON batch file into the stage (unknown keys are an error, as in the API)."""
    return (
        f"INSERT INTO {names.stage} SELECT * FROM file({quote(path)}, 'JSONEachRow', "
        f"'{BATCH_STRUCTURE}') SETTINGS input_format_skip_unknown_fields = 0"
    )


def retention_ttl(names: Names, retention_days: int) -> str:
    """Change the raw-event retention without rewriting existing parts now."""
    return (
        f"ALTER TABLE {names.events} MODIFY TTL toDateTime(created_at) + "
        f"INTERVAL {int(retention_days)} DAY SETTINGS materialize_ttl_after_modify = 0"
    )


def insert_batch(names: Names, source: str, dedup_window_s: int) -> str:
    """Insert a batch from `source`, once per event_id, skipping ids already stored recently.

    LIMIT 1 BY already drops in-batch copies, so the engine's own replacing pass over the
    block (`optimize_on_insert`) would only repeat the work.
    `source` is how the adapter exposes the batch (chDB: its in-memory stage table, server: an
    external table); the SQL around it is the same for both engines.
    """
    cols = ", ".join(COLUMNS)
    typed = (
        f"SELECT * REPLACE (toUUID(event_id) AS event_id, "
        f"fromUnixTimestamp64Milli(created_at, 'UTC') AS created_at) FROM {source}"
    )
    seen = ""
    if dedup_window_s > 0:
        seen = f"""
WHERE b.event_id NOT IN (
    SELECT event_id FROM {names.events}
    WHERE inserted_at >= now64(3) - toIntervalSecond({int(dedup_window_s)})
      AND event_id IN (SELECT toUUID(event_id) FROM {source})
)"""
    return f"""
INSERT INTO {names.events} ({cols})
SELECT {cols} FROM ({typed}) AS b{seen}
LIMIT 1 BY b.event_id
-- A backfill batch may span more than the default 100 day partitions.
SETTINGS optimize_on_insert = 0, max_partitions_per_insert_block = 0
"""


def stats(names: Names) -> str:
    """Distinct events, physical rows (copies not merged away yet) and their time range."""
    return f"""
SELECT uniqExact(event_id) AS events,
       count() AS rows,
       if(count() = 0, NULL, toString(min(created_at))) AS oldest,
       if(count() = 0, NULL, toString(max(created_at))) AS newest
FROM {names.events}
"""


def bytes_on_disk(names: Names) -> str:
    """Bytes of the active parts of the events table."""
    return f"""
SELECT toInt64(sum(bytes_on_disk)) AS bytes FROM system.parts
WHERE database = '{names.database}' AND table = '{names.table}' AND active
"""
