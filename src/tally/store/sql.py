"""The ClickHouse SQL Tally runs, shared by the chDB and server adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tally.events.schema import COLUMNS

# How a batch arrives in the insert query: the NDJSON the buffer holds, one column per field.
BATCH_STRUCTURE: Final = ", ".join(
    f"{c} Int64" if c == "created_at" else f"{c} String" for c in COLUMNS
)


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
        return f"{self.database}.tally_flush_stage"

    @property
    def migrations(self) -> str:
        """The table recording applied schema migrations."""
        return f"{self.database}.tally_schema_migrations"


def create_events_table(names: Names, retention_days: int) -> str:
    """DDL of the raw events table (seed 000's `user_events`)."""
    return f"""
CREATE TABLE IF NOT EXISTS {names.events} (
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
PARTITION BY toYYYYMM(created_at)
-- Same-day copies of an event_id collapse on merge; the insert already skips copies
-- inside the dedup window, so queries see each event once without FINAL.
ORDER BY (toDate(created_at), event_id)
TTL toDateTime(created_at) + INTERVAL {int(retention_days)} DAY
"""


def create_stage(names: Names) -> str:
    """The Memory table holding one batch as the buffer encodes it, between parse and insert."""
    return f"CREATE TABLE IF NOT EXISTS {names.stage} ({BATCH_STRUCTURE}) ENGINE = Memory"


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
SETTINGS optimize_on_insert = 0
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
