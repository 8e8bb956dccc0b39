"""Per-token ingest rate limit: events per second, shared through Redis or in-process."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

import redis

from tally import keys
from tally.errors import RateLimited
from tally.infra.redis import call

ANONYMOUS = "anonymous"


def token_id(token: str | None) -> str:
    """A stable, non-secret name for a token (keys and logs never hold the token itself)."""
    if not token:
        return ANONYMOUS
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class RateLimiter:
    """A fixed one-second window per token: simple, exact per window, one round trip."""

    def __init__(
        self,
        limit_per_s: int,
        client: redis.Redis | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit_per_s = limit_per_s
        self._client = client
        self._clock = clock
        self._local: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def take(self, who: str, events: int) -> None:
        """Count `events` for `who` in this second; RateLimited when past the limit."""
        if self.limit_per_s <= 0 or events <= 0:
            return
        now = self._clock()
        window = int(now)
        used = self._count(who, window, events)
        if used > self.limit_per_s:
            raise RateLimited(self.limit_per_s, max(1, math.ceil(window + 1 - now)))

    def _count(self, who: str, window: int, events: int) -> int:
        if self._client is None:
            with self._lock:
                slot = (who, window)
                self._local = {k: v for k, v in self._local.items() if k[1] >= window}
                self._local[slot] = self._local.get(slot, 0) + events
                return self._local[slot]
        client = self._client
        key = keys.rate_limit(who, window)

        def run() -> int:
            pipe = client.pipeline(transaction=True)
            pipe.incrby(key, events)
            pipe.expire(key, 2)  # the window's counter outlives it by a second, then goes
            used, _ = pipe.execute()
            return int(used)

        return call("rate limit", run)
