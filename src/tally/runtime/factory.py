"""Build the buffer, the store and the task context from settings."""

from __future__ import annotations

import redis

from tally.buffer.base import EventBuffer
from tally.buffer.memory import MemoryBuffer
from tally.buffer.redis import RedisStreamBuffer, connect
from tally.cache.base import ResultCache
from tally.cache.memory import MemoryCache
from tally.cache.redis import RedisCache
from tally.cache.results import Publication
from tally.events.accept import AcceptOptions
from tally.jobs.base import JobIndex, Retention
from tally.jobs.memory import MemoryJobIndex
from tally.jobs.redis import RedisJobIndex
from tally.meta.db import MetadataDB, database_url
from tally.settings import Settings
from tally.store.base import Store
from tally.store.sql import Names


def redis_client(settings: Settings) -> redis.Redis | None:
    """A Redis client in Redis mode; None in embedded mode."""
    url = settings.broker_redis_url()
    return connect(url, settings.redis_timeout_s) if url else None


def build_buffer(settings: Settings, client: redis.Redis | None) -> EventBuffer:
    """The Redis Stream buffer, or the in-process one in embedded mode."""
    return RedisStreamBuffer(client) if client is not None else MemoryBuffer()


def build_results(settings: Settings, client: redis.Redis | None) -> Publication:
    """Where analytics results are published: Redis keys, or this process (embedded)."""
    cache: ResultCache = RedisCache(client) if client is not None else MemoryCache()
    return Publication(cache, prefix=settings.cache_prefix, ttl_s=settings.cache_ttl_s)


def build_index(settings: Settings, client: redis.Redis | None) -> JobIndex:
    """The job index: Redis, or this process (embedded)."""
    retention = Retention(settings.job_history_ttl_s, settings.job_history_max)
    return RedisJobIndex(client, retention) if client is not None else MemoryJobIndex(retention)


def store_names(settings: Settings) -> Names:
    """Database and table names of the store."""
    return Names(database=settings.clickhouse_database, table=settings.table_name)


def build_store(settings: Settings) -> Store:
    """Open the store: a ClickHouse server if configured, else chDB on the data directory."""
    url = settings.clickhouse_server_url()
    if url:
        from tally.store.clickhouse import ClickHouseStore

        return ClickHouseStore(
            url,
            store_names(settings),
            settings.retention_days,
            settings.clickhouse_password.get_secret_value(),
        )
    from tally.store.chdb import ChdbStore

    return ChdbStore(settings.chdb_path, store_names(settings), settings.retention_days)


def accept_options(settings: Settings) -> AcceptOptions:
    """Validation limits and privacy options from settings."""
    return AcceptOptions(
        max_batch_events=settings.max_batch_events,
        max_event_bytes=settings.max_event_bytes,
        retention_days=settings.retention_days,
        max_future_skew_s=settings.max_future_skew_s,
        reject_bots=settings.reject_bots,
        ip_anonymization=settings.ip_anonymization,
        ip_hash_salt=settings.ip_hash_salt.get_secret_value(),
    )


def build_metadata(settings: Settings) -> MetadataDB:
    """The metadata database of DATABASE_URL (SQLite in the data dir when unset)."""
    configured = settings.database_url.get_secret_value() if settings.database_url else None
    if not configured:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return MetadataDB(database_url(configured, settings.data_dir))
