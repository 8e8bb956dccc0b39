"""Worker heartbeats in Redis, so the API can say which workers are alive and what they own."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis

from tally import keys

log = logging.getLogger("tally.heartbeat")


class Heartbeat:
    """Writes this worker's record every `interval_s`; it expires if the worker dies."""

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        info: Callable[[], dict[str, Any]],
        interval_s: float,
    ) -> None:
        self._client = client
        self._name = name
        self._info = info
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tally-heartbeat", daemon=True)

    def start(self) -> None:
        """Begin beating."""
        self._thread.start()

    def beat(self) -> None:
        """Write the record once."""
        record = {**self._info(), "name": self._name, "pid": os.getpid(), "seen_at": time.time()}
        self._client.set(
            keys.worker_heartbeat(self._name),
            orjson.dumps(record),
            ex=max(1, int(self._interval_s * 3)),
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except redis.RedisError as exc:
                log.warning("heartbeat not written: %s", type(exc).__name__)
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        """Stop beating and remove the record."""
        self._stop.set()
        with contextlib.suppress(redis.RedisError):
            self._client.delete(keys.worker_heartbeat(self._name))


def workers_seen(client: redis.Redis) -> list[dict[str, Any]]:
    """Records of workers whose heartbeat has not expired."""
    names = list(client.scan_iter(match=f"{keys.WORKER_HEARTBEAT_PREFIX}*", count=100))
    if not names:
        return []
    records = client.mget(names)
    return [orjson.loads(r) for r in records if r]
