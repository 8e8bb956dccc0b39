"""Kombu's Redis transport, with a worker-killing reconnect crash turned into a plain error.

After the broker connection drops, Celery's consumer closes the connection, then closes its
channel. The channel's close restores its unacknowledged messages through a new Redis
pool, whose parameters come from a connection that is already gone: kombu raises
AttributeError there ('NoneType' object has no attribute 'hostname'). The consumer
ignores connection errors on close, not that one, so the worker dies with "Unrecoverable
error" (seen in tests/chaos when Redis was SIGKILLed while a job ran; kombu's issue
tracker has reported this failure mode since kombu 3). Here the gone connection is a
ConnectionError: the close goes on, the consumer reconnects, and the messages, still in
Redis's unacked hash, come back through the visibility-timeout sweep.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    """A Redis channel that reports a closed connection as a connection error."""

    # kombu's signature, boolean positional and all
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:  # noqa: FBT001, FBT002
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is already closed")
        params: dict[str, Any] = super()._connparams(asynchronous)  # type: ignore[misc]
        return params


class Transport(kombu_redis.Transport):
    """Celery's `redis://` and `rediss://` transport, with the channel above."""

    Channel = Channel


# Named in the Celery configuration (broker_transport), so Celery loads it by path.
TRANSPORT_PATH = f"{__name__}:Transport"
