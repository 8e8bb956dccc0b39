"""Publishing analytics results: atomic, TTL'd, failures keep the previous results."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis

from tally import keys
from tally.analytics.params import AnalyticsParams
from tally.analytics.publish import Publication, read_metadata, read_results, refresh
from tally.cache.base import ResultCache
from tally.cache.memory import MemoryCache
from tally.cache.redis import RedisCache
from tally.errors import NotFound, StoreError, ValidationFailed
from tally.store.chdb import ChdbStore
from tally.store.sql import Names
from tests.analytics.helpers import Ev, insert
from tests.conftest import RedisServer


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    s = ChdbStore(tmp_path_factory.mktemp("c") / "chdb", Names("analytics", "user_events"), 90)
    s.upgrade()
    now = datetime.now(UTC)
    insert(s, now, [Ev("video_view", f"v{i % 3}", timedelta(hours=i % 30)) for i in range(40)])
    yield s
    s.close()


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[ResultCache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    redis_url: str = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(redis_url)
    yield RedisCache(client)
    client.close()


def test_before_the_first_run_reads_are_not_found(cache: ResultCache) -> None:
    target = Publication(cache)
    assert read_metadata(target) is None
    with pytest.raises(NotFound, match="no analytics results yet"):
        read_results(target, "popularity", "country")


def test_a_run_publishes_five_keys_with_the_ttl(store: ChdbStore, cache: ResultCache) -> None:
    target = Publication(cache, prefix="p:", ttl_s=3600)
    meta = refresh(store, target, AnalyticsParams())
    assert meta["status"] == "success"
    for name in [*keys.ANALYTICS_RESULT_KEYS.values(), keys.ANALYTICS_METADATA]:
        left = cache.ttl_s(f"p:{name}")
        assert left is not None
        assert 3590 < left <= 3600
    fr = read_results(target, "popularity", "country", group="FR", limit=2)
    assert list(fr["groups"]) == ["FR"]
    assert len(fr["groups"]["FR"]) == 2
    with pytest.raises(NotFound, match="'XX'"):
        read_results(target, "popularity", "country", group="XX")
    with pytest.raises(ValidationFailed) as err:
        read_results(target, "popularity", "planet")
    assert err.value.field == "by"


def test_a_failed_run_keeps_the_previous_results(store: ChdbStore, cache: ResultCache) -> None:
    # Given a successful run
    target = Publication(cache)
    good = refresh(store, target, AnalyticsParams())
    before = cache.get(keys.ANALYTICS_RESULT_KEYS[("popularity", "country")])

    # When the next run fails inside the store
    broken = Publication(cache)
    bad_store = ChdbStoreWithoutTable(store)
    with pytest.raises(StoreError):
        refresh(bad_store, broken, AnalyticsParams())

    # Then the results are the previous run's, and the metadata says what happened
    assert cache.get(keys.ANALYTICS_RESULT_KEYS[("popularity", "country")]) == before
    meta = read_metadata(target)
    assert meta is not None
    assert meta["status"] == "failed"
    assert "user_events_missing" in meta["error"]
    assert meta["last_analysis"] == good["last_analysis"]


class ChdbStoreWithoutTable(ChdbStore):
    """The same store, pointed at a table that does not exist: a real store error."""

    def __init__(self, inner: ChdbStore) -> None:
        self.__dict__.update(inner.__dict__)
        self.names = Names("analytics", "user_events_missing")


def test_seed_000_reader_snippet_works_unchanged(
    store: ChdbStore, private_redis: RedisServer
) -> None:
    # Given a run published with the default (empty) prefix to the snippet's DB 0, on a
    # private redis-server (the machine's shared DB 0 is left alone)
    client = private_redis.client()
    names = [*keys.ANALYTICS_RESULT_KEYS.values(), keys.ANALYTICS_METADATA]
    try:
        meta = refresh(store, Publication(RedisCache(client)), AnalyticsParams())

        # When seed 000's snippet runs as written, but for where that Redis listens
        snippet = SEED_000_SNIPPET.replace(
            "host='localhost', port=6379", f"host='127.0.0.1', port={private_redis.port}"
        )
        assert snippet != SEED_000_SNIPPET
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(snippet, "seed-000", "exec"), {})  # noqa: S102 - the seed's own code

        # Then it printed the data and the last analysis time
        printed = out.getvalue()
        assert meta["last_analysis"] in printed
        data = orjson.loads(client.get("analytics_popularity_by_country") or b"{}")
        assert "FR" in data["groups"]
    finally:
        client.delete(*names)
        client.close()


# Seed 000's "Consulter les résultats dans Redis" block, verbatim (its prints translated
# nowhere: the consumers' code is what must keep working).
SEED_000_SNIPPET = """\
import redis
import json

r = redis.Redis(host='localhost', port=6379, db=0, decode_responses=True)

# Voir la popularité par pays
data = json.loads(r.get('analytics_popularity_by_country'))
print(data)

# Voir les métadonnées
metadata = json.loads(r.get('comprehensive_analytics_metadata'))
print(f"Dernière analyse: {metadata['last_analysis']}")
"""
