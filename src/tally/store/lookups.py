"""Entity and category names by a numeric key, written beside the events.

The analytics aggregation groups hundreds of thousands of (entity, country, category) cells.
Carrying the names through it as `any(String)` states cost most of its memory (10M events:
+156 MB of the +280 MB RSS growth); grouping on numeric keys and joining the names of the
few hundred thousand entities afterwards costs a few MB (README, Performance).

Each batch writes its names, with the day they were last seen, just before its events: a
stored event always has its names, and a batch retried after a crash writes them again,
harmlessly. ReplacingMergeTree keeps the latest row per key as parts merge and a TTL drops
names no longer seen within the retention, as the events TTL drops the events. Readers take
one row per key (FINAL), since copies wait for a merge. (A materialized view on the events
table would do the writing, but its rows count in the insert's written rows, which the
flush reports as events stored.)
"""

from __future__ import annotations

from typing import Final

from tally.store.sql import Names

# The keys analytics group on. 64-bit hashes: two of 1M entities collide with odds ~3e-8.
ENTITY_KEY: Final = "cityHash64(entity_type, entity_id)"
# 48 bits, so that a country (16 bits) and a category fit one UInt64 beside the entity key.
CATEGORY_KEY: Final = "bitShiftRight(cityHash64(category), 16)"
CATEGORY_KEY_BITS: Final = 48


def _table(table: str, columns: str, key: str, retention_days: int) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {table} ({columns}, last_seen Date)
ENGINE = ReplacingMergeTree(last_seen)
ORDER BY {key}
TTL last_seen + INTERVAL {int(retention_days)} DAY
"""


def record_names(names: Names, source: str, day: str) -> list[str]:
    """Write the entity and category names found in `source`, whose event day is `day`."""
    seen = f"max({day}) AS last_seen"
    return [
        f"INSERT INTO {names.entity_names} SELECT {ENTITY_KEY} AS entity_key, entity_type, "
        f"entity_id, {seen} FROM {source} GROUP BY entity_type, entity_id",
        f"INSERT INTO {names.category_names} SELECT {CATEGORY_KEY} AS category_key, category, "
        f"{seen} FROM {source} GROUP BY category",
    ]


def record_stored_names(names: Names) -> list[str]:
    """Write the names of every event in the events table (a backfill)."""
    return record_names(names, names.events, "toDate(created_at)")


def create_lookups(names: Names, retention_days: int) -> list[str]:
    """The tables, then the names of the events already stored; safe to repeat after a crash.

    A name written twice is one row once merged, and readers take one row per key anyway.
    """
    return [
        _table(
            names.entity_names,
            "entity_key UInt64, entity_type LowCardinality(String), entity_id String",
            "entity_key",
            retention_days,
        ),
        _table(
            names.category_names,
            "category_key UInt64, category String",
            "category_key",
            retention_days,
        ),
        *record_stored_names(names),
    ]


def retention_ttl(table: str, retention_days: int) -> str:
    """Keep a lookup's names as long as the events, without rewriting its parts now."""
    return (
        f"ALTER TABLE {table} MODIFY TTL last_seen + INTERVAL {int(retention_days)} DAY "
        "SETTINGS materialize_ttl_after_modify = 0"
    )
