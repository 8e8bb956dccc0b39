"""Build each part from its settings section: Redis, buffer, cache, index, store, metadata DB."""

from __future__ import annotations

import redis

from tally.analytics.publish import Publication
from tally.buffer.base import EventBuffer
from tally.buffer.memory import MemoryBuffer
from tally.buffer.redis import RedisStreamBuffer
from tally.cache.base import ResultCache
from tally.cache.memory import MemoryCache
from tally.cache.redis import RedisCache
from tally.infra.metadb.db import MetadataDB, database_url
from tally.infra.redis import connect
from tally.jobs.base import JobIndex, Retention
from tally.jobs.memory import MemoryJobIndex
from tally.jobs.redis import RedisJobIndex
from tally.settings import (
    AnalyticsSettings,
    JobsSettings,
    MetadataSettings,
    RedisSettings,
    StoreSettings,
)
from tally.store.base import Store
from tally.store.sql import Names


def redis_client(settings: RedisSettings) -> redis.Redis | None:
    """A Redis client in Redis mode; None in embedded mode."""
    url = settings.url_in_force()
    return connect(url, settings.timeout_s) if url else None


def build_buffer(client: redis.Redis | None) -> EventBuffer:
    """The Redis Stream buffer, or the in-process one in embedded mode."""
    return RedisStreamBuffer(client) if client is not None else MemoryBuffer()


def build_results(settings: AnalyticsSettings, client: redis.Redis | None) -> Publication:
    """Where analytics results are published: Redis keys, or this process (embedded)."""
    cache: ResultCache = RedisCache(client) if client is not None else MemoryCache()
    return Publication(cache, prefix=settings.cache_prefix, ttl_s=settings.cache_ttl_s)


def build_index(settings: JobsSettings, client: redis.Redis | None) -> JobIndex:
    """The job index: Redis, or this process (embedded)."""
    retention = Retention(settings.history_ttl_s, settings.history_max)
    return RedisJobIndex(client, retention) if client is not None else MemoryJobIndex(retention)


def store_names(settings: StoreSettings) -> Names:
    """Database and table names of the store."""
    return Names(database=settings.database, table=settings.table_name)


def build_store(settings: StoreSettings) -> Store:
    """Open the store: a ClickHouse server if configured, else chDB on the data directory."""
    url = settings.server_url()
    if url:
        from tally.store.clickhouse import ClickHouseStore

        return ClickHouseStore(
            url,
            store_names(settings),
            settings.retention_days,
            user=settings.clickhouse_user,
            password=settings.clickhouse_password.get_secret_value(),
        )
    from tally.store.chdb import ChdbStore

    return ChdbStore(settings.chdb_path, store_names(settings), settings.retention_days,
                     backups=settings.backup_path)  # fmt: skip


def build_metadata(settings: MetadataSettings) -> MetadataDB:
    """The metadata database of DATABASE_URL (SQLite in the data dir when unset)."""
    configured = settings.database_url.get_secret_value() if settings.database_url else None
    if not configured:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return MetadataDB(database_url(configured, settings.data_dir))
