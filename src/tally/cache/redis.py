"""The Redis result cache: seed 000's plain string keys, written in one MULTI/EXEC."""

from __future__ import annotations

from collections.abc import Mapping

import redis

from tally.cache.base import ResultCache
from tally.infra.redis import call


class RedisCache(ResultCache):
    """Plain `SET key value EX ttl` strings, so existing readers (`r.get(...)`) keep working."""

    kind = "redis"

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def publish(self, values: Mapping[str, str], ttl_s: int) -> None:
        def write() -> None:
            # MULTI/EXEC: a reader never sees keys from two different runs mixed.
            with self._client.pipeline(transaction=True) as pipe:
                for key, value in values.items():
                    pipe.set(key, value, ex=ttl_s)
                pipe.execute()

        call("result cache", write)

    def get(self, key: str) -> str | None:
        raw = call("result cache", lambda: self._client.get(key))
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def ttl_s(self, key: str) -> float | None:
        left = int(call("result cache", lambda: self._client.pttl(key)))
        return left / 1000 if left >= 0 else None
