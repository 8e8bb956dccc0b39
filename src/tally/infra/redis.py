"""Redis: one way to connect, one translator of its errors, and a lease.

Every Redis adapter (buffer, cache, job index, breakers, leases, rate limit, broker
inspection) runs its calls through `redis_errors`, so no redis-py exception reaches a route,
a CLI command or a task: they become `UnavailableError` naming Redis (503 at the API).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import redis

from tally.errors import RedisFull, UnavailableError
from tally.infra.health import Checked

T = TypeVar("T")

# Compare-and-expire / compare-and-delete: only the holder's token may touch a lease.
LEASE_REFRESH = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
LEASE_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def connect(url: str, timeout_s: float) -> redis.Redis:
    """A Redis client with bounded timeouts, so a dead Redis fails fast instead of hanging."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=15,
        retry_on_timeout=False,
    )


def full(exc: redis.RedisError) -> bool:
    """True when Redis refused a write for lack of memory (OOM) or of persistence (MISCONF)."""
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return True
    text = str(exc)
    return text.startswith(("OOM", "MISCONF")) or (
        isinstance(exc, redis.exceptions.ExecAbortError) and "OOM" in text
    )


def describe(exc: redis.RedisError) -> str:
    """Why a Redis call failed, in words a user can act on (no traceback, no secrets)."""
    if full(exc):
        if str(exc).startswith("MISCONF"):
            return "Redis cannot persist its data (MISCONF) and refuses writes; retry later"
        return "Redis is full (maxmemory reached) and refuses writes; retry later"
    if isinstance(exc, redis.TimeoutError):
        return "Redis did not answer in time"
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return "Redis is loading its data set"
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.AuthorizationError):
        return "Redis refused the credentials"
    if isinstance(exc, redis.ConnectionError):
        return f"cannot reach Redis ({type(exc).__name__})"
    return f"Redis error ({type(exc).__name__})"


@contextlib.contextmanager
def redis_errors(
    what: str, error: Callable[[str], UnavailableError] | None = None
) -> Iterator[None]:
    """Translate redis-py's errors raised inside the block into Tally's (`what` names the user).

    `error` builds the exception from the message (default: `UnavailableError("redis", ...)`).
    """
    try:
        yield
    except redis.RedisError as exc:
        message = f"{what}: {describe(exc)}"
        if full(exc):  # back-pressure, whoever wrote: 503 buffer_full with Retry-After
            raise RedisFull(message) from None
        raise (error(message) if error else UnavailableError("redis", message)) from None


def call(what: str, fn: Callable[[], T]) -> T:
    """Run one Redis call under `redis_errors`."""
    with redis_errors(what):
        return fn()


class RedisLease:
    """A named lease (`SET NX PX`): held by one process at a time, expiring if it dies."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: float, token: str | None = None):
        self._client = client
        self._key = key
        self._ttl_ms = int(ttl_s * 1000)
        self.token = token or uuid.uuid4().hex

    def acquire(self) -> bool:
        """Take the lease if nobody holds it."""
        return bool(
            call("lease", lambda: self._client.set(self._key, self.token, nx=True, px=self._ttl_ms))
        )

    def refresh(self) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another)."""
        return bool(
            call(
                "lease",
                lambda: self._client.eval(LEASE_REFRESH, 1, self._key, self.token, self._ttl_ms),
            )
        )

    def release(self) -> None:
        """Give the lease back (it expires on its own if Redis is unreachable now)."""
        with contextlib.suppress(UnavailableError):
            call("lease", lambda: self._client.eval(LEASE_RELEASE, 1, self._key, self.token))


class RedisCheck:
    """Health: does the deployment's Redis answer a PING?"""

    name = "redis"

    def __init__(self, client: redis.Redis | None) -> None:
        self._client = client

    def check(self) -> Checked:
        if self._client is None:
            return Checked({"status": "not used (embedded)"})
        try:
            call("health", self._client.ping)
        except UnavailableError as exc:
            return Checked({"status": "down", "error": exc.message}, ("redis unreachable",))
        return Checked({"status": "ok"})
