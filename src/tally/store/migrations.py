"""Schema migrations, applied in order and recorded in the store itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tally.store import lookups, sql
from tally.store.base import Store


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered step of the schema."""

    version: int
    name: str
    statements: Callable[[sql.Names, int], list[str]]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create user_events", lambda n, days: [sql.create_events_table(n, days)]),
    # Rows written to the old table during the copy would be dropped with it: with a ClickHouse
    # server, stop the flushers first (events wait in the buffer); chDB has a single owner.
    Migration(2, "sort user_events by entity, a partition per day", sql.resort_events_table),
    Migration(3, "entity and category names beside user_events", lookups.create_lookups),
)


def upgrade(
    store: Store,
    names: sql.Names,
    retention_days: int,
    steps: Sequence[Migration] = MIGRATIONS,
) -> list[str]:
    """Apply the missing `steps` in order, then make the retention TTL match the settings."""
    store.command(f"CREATE DATABASE IF NOT EXISTS {names.database}")
    store.command(
        f"CREATE TABLE IF NOT EXISTS {names.migrations} "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = {int(r["version"]) for r in store.query(f"SELECT version FROM {names.migrations}")}
    applied: list[str] = []
    for migration in steps:
        if migration.version in done:
            continue
        for statement in migration.statements(names, retention_days):
            store.command(statement)
        store.command(
            f"INSERT INTO {names.migrations} (version, name) VALUES "
            f"({migration.version}, '{migration.name}')"
        )
        applied.append(f"{migration.version:04d} {migration.name}")
    # Each table keeps its rows as long as the settings say; a table a partial upgrade has not
    # created yet gets the setting when it is.
    ttl = {
        names.events: sql.retention_ttl(names, retention_days),
        names.entity_names: lookups.retention_ttl(names.entity_names, retention_days),
        names.category_names: lookups.retention_ttl(names.category_names, retention_days),
    }
    tables = store.query(
        "SELECT concat(database, '.', name) AS t, engine_full FROM system.tables "
        "WHERE database = {db:String}",
        {"db": names.database},
    )
    stale = [
        r["t"]
        for r in tables
        if r["t"] in ttl and f"toIntervalDay({retention_days})" not in r["engine_full"]
    ]
    for table in stale:
        store.command(ttl[table])
    if stale:
        applied.append(f"retention set to {retention_days} days")
    return applied
