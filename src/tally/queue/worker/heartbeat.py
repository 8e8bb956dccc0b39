"""Worker heartbeats in Redis, so the API can say which workers are alive and what they own."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis

from tally import keys
from tally.errors import UnavailableError
from tally.infra.periodic import Periodic
from tally.infra.redis import call

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
        self._loop = Periodic("tally-heartbeat", self.beat, interval_s, log=log, first_wait=False)

    def start(self) -> None:
        """Begin beating."""
        self._loop.start()

    def beat(self) -> None:
        """Write the record once."""
        record = {**self._info(), "name": self._name, "host": socket.gethostname(),
                  "pid": os.getpid(), "seen_at": time.time()}  # fmt: skip
        key = keys.worker_heartbeat(self._name)
        ttl_s = max(1, int(self._interval_s * 3))
        call("heartbeat", lambda: self._client.set(key, orjson.dumps(record), ex=ttl_s))

    def stop(self) -> None:
        """Stop beating and remove the record."""
        self._loop.stop()
        with contextlib.suppress(UnavailableError):  # the record expires on its own
            call("heartbeat", lambda: self._client.delete(keys.worker_heartbeat(self._name)))
