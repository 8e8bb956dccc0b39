"""The broker's errors (kombu) as Tally's: the one translator for the job engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis
from kombu.exceptions import OperationalError

from tally.errors import RedisFull, UnavailableError
from tally.infra.redis import describe, full


@contextlib.contextmanager
def broker_errors(what: str) -> Iterator[None]:
    """Translate kombu's and redis-py's errors raised while publishing to the broker."""
    try:
        yield
    except OperationalError as exc:
        raise UnavailableError("broker", f"{what}: {exc}") from None
    except redis.RedisError as exc:
        if full(exc):
            raise RedisFull(f"{what}: {describe(exc)}") from None
        raise UnavailableError("broker", f"{what}: {describe(exc)}") from None
