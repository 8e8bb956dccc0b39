"""Whether this Redis may throw acknowledged events away: its eviction policy and persistence.

The buffer is the only copy of an acknowledged event. An `allkeys-*` policy lets Redis evict
the stream under memory pressure, silently; Redis without AOF loses what it holds on a
restart. The guard reads both at start and every `check_s`, says so in health, status and
a metric, and makes ingest refuse while the policy can evict (unless told otherwise).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import redis
from prometheus_client import Gauge

from tally.errors import PersistenceRequired, RedisFull, RedisMayEvict, UnavailableError
from tally.infra.health import Checked
from tally.infra.periodic import Periodic
from tally.infra.redis import redis_errors

log = logging.getLogger("tally.redis")

POLICY = Gauge(
    "tally_redis_eviction_safe",
    "1 when Redis's maxmemory-policy cannot evict the event buffer (noeviction, volatile-*)",
    ["policy"],
)
# Ingest stops at this fraction of maxmemory. The rest is headroom for what drains the
# buffer: a flush's lease (SET) and a job's record are writes that a full Redis refuses
# (OOM) too, so a buffer filled to the limit could never be flushed.
FULL_AT = 0.9
# How stale the memory reading may be when ingest asks (one INFO per second at most);
# between readings, what ingest wrote is added to the last one.
MEMORY_READ_EVERY_S = 1.0
# Redis's memory per byte of encoded event in the buffer (bench/redis_sizing.py: 1.10).
OVERHEAD = 1.2
# Health says "full" from a refusal for memory until ingest is admitted again, for this long
# at most: Redis's used_memory moves around the threshold (client buffers come and go), and
# an operator asking right after a 503 must not be told all is well.
REFUSED_SHOWN_S = 30.0


@dataclass(frozen=True, slots=True)
class RedisPolicy:
    """What Redis says about eviction and persistence (None: it would not say)."""

    maxmemory_policy: str
    maxmemory_bytes: int
    used_memory_bytes: int
    aof: bool
    appendfsync: str | None
    rdb_save: str | None
    source: str  # "CONFIG", or "INFO" where CONFIG is disabled (managed Redis)

    @property
    def may_evict(self) -> bool:
        """True for `allkeys-*`: any key, the stream included, may be evicted."""
        return self.maxmemory_policy.startswith("allkeys-")

    @property
    def evicts_ttl_keys(self) -> bool:
        """True for `volatile-*`: keys with a TTL (job records) may go; the stream has none."""
        return self.maxmemory_policy.startswith("volatile-")

    @property
    def full(self) -> bool:
        """True when memory is at its limit: writes will fail with OOM."""
        limit = self.maxmemory_bytes
        return limit > 0 and self.used_memory_bytes >= FULL_AT * limit

    def persistence(self) -> str:
        """What a Redis restart does to acknowledged events still in the buffer."""
        if self.aof:
            fsync = self.appendfsync or "unknown"
            lost = {"always": "nothing", "everysec": "up to 1 s of writes"}.get(fsync, "writes")
            return f"AOF on (appendfsync {fsync}): a crash loses {lost}"
        if self.rdb_save:
            return (
                f"no AOF, RDB snapshots ({self.rdb_save}): a crash loses what came after the "
                "last snapshot"
            )
        return "no AOF and no RDB: a Redis restart loses every event still in the buffer"

    def describe(self) -> dict[str, Any]:
        """JSON-ready form for health and status."""
        return {**asdict(self), "persistence": self.persistence()}


def _config(client: redis.Redis, name: str) -> str | None:
    value: Any = client.config_get(name).get(name)
    return None if value is None else str(value)


def read_policy(client: redis.Redis) -> RedisPolicy:
    """Read the policy with CONFIG GET, or from INFO where CONFIG is renamed or disabled."""
    with redis_errors("redis policy"):
        memory: Any = client.info("memory")
        persistence: Any = client.info("persistence")
        used = int(memory.get("used_memory", 0))
        try:
            policy = _config(client, "maxmemory-policy") or "noeviction"
            maxmemory = int(_config(client, "maxmemory") or 0)
            appendfsync = _config(client, "appendfsync")
            save = _config(client, "save") or None
            source = "CONFIG"
        except redis.ResponseError:  # unknown command: CONFIG renamed away
            policy = str(memory.get("maxmemory_policy", "noeviction"))
            maxmemory = int(memory.get("maxmemory", 0))
            appendfsync, save, source = None, None, "INFO"
    aof = bool(int(persistence.get("aof_enabled", 0)))
    return RedisPolicy(policy, maxmemory, used, aof, appendfsync, save, source)


class PolicyGuard:
    """Keeps the deployment's Redis policy in view and refuses ingest when it is unsafe."""

    name = "redis_policy"

    def __init__(
        self,
        client: redis.Redis,
        *,
        allow_evicting: bool,
        require_persistence: bool,
        check_s: float,
    ) -> None:
        self._client = client
        self._allow_evicting = allow_evicting
        self._require_persistence = require_persistence
        self.policy: RedisPolicy | None = None
        self._memory_read_at = 0.0
        self._refused_at: float | None = None
        self._loop = Periodic("tally-redis-policy", self.refresh, check_s, log=log)

    def start(self) -> None:
        """Read the policy now (saying what it means), then every `check_s`."""
        try:
            self.refresh(announce=True)
        except UnavailableError as exc:
            log.warning(
                "Redis is unreachable at start (%s): requests that need it answer 503 until "
                "it is back",
                exc.message,
            )
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def refresh(self, *, announce: bool = False) -> None:
        """Read the policy again; warn when it changed (or at start)."""
        before = self.policy
        now = read_policy(self._client)
        self.policy = now
        self._memory_read_at = time.monotonic()
        POLICY.clear()
        POLICY.labels(policy=now.maxmemory_policy).set(0 if now.may_evict else 1)
        if not announce and before is not None and before.maxmemory_policy == now.maxmemory_policy:
            return
        if now.may_evict:
            verb = (
                "accepted anyway (TALLY_ALLOW_EVICTING_REDIS)"
                if self._allow_evicting
                else ("refused until it is fixed")
            )
            log.warning(
                "Redis maxmemory-policy is %s: it may evict the event buffer and lose "
                "acknowledged events; events are %s. Fix: CONFIG SET maxmemory-policy "
                "noeviction (and in redis.conf)",
                now.maxmemory_policy,
                verb,
            )
        elif now.evicts_ttl_keys:
            log.warning(
                "Redis maxmemory-policy is %s: the event buffer is safe (it has no TTL), but "
                "job records may be evicted under memory pressure; noeviction is safest",
                now.maxmemory_policy,
            )
        log.info("Redis persistence: %s", now.persistence())

    def check_ingest(self) -> None:
        """Refuse (RedisMayEvict, PersistenceRequired) while accepting events is unsafe."""
        if self.policy is None:  # a process that never started the loop (the SDK)
            try:
                self.refresh(announce=True)
            except UnavailableError:
                return  # Redis down: the append itself will say so
        policy = self.policy
        assert policy is not None
        if policy.may_evict and not self._allow_evicting:
            raise RedisMayEvict(policy.maxmemory_policy)
        if self._require_persistence and not policy.aof:
            raise PersistenceRequired()
        if policy.maxmemory_bytes > 0:
            policy = self._fresh_memory(policy)
            if policy.full:
                pct = 100 * policy.used_memory_bytes / policy.maxmemory_bytes
                raise RedisFull(
                    f"Redis is at {pct:.0f}% of its maxmemory: events are refused until a "
                    "flush frees the buffer (the rest is kept for flushes and jobs)"
                )

    def refused_full(self) -> None:
        """Ingest was refused for memory (here, or by Redis's OOM): health says full."""
        self._refused_at = time.monotonic()

    def wrote(self, lines: list[bytes]) -> None:
        """Ingest appended these events: count them until the next memory reading."""
        self._refused_at = None  # an append went in: no longer refusing
        policy = self.policy
        if policy is not None and policy.maxmemory_bytes > 0:  # sized only under a limit
            used = policy.used_memory_bytes + int(sum(map(len, lines)) * OVERHEAD)
            self.policy = replace(policy, used_memory_bytes=used)

    def _fresh_memory(self, policy: RedisPolicy) -> RedisPolicy:
        """The policy with a memory reading at most MEMORY_READ_EVERY_S old; read at every
        request once the estimate passes half of maxmemory, where it must be exact."""
        half_full = policy.used_memory_bytes >= policy.maxmemory_bytes / 2
        if not half_full and time.monotonic() - self._memory_read_at < MEMORY_READ_EVERY_S:
            return policy
        with redis_errors("redis memory"):
            memory: Any = self._client.info("memory")
        fresh = replace(policy, used_memory_bytes=int(memory.get("used_memory", 0)))
        self.policy, self._memory_read_at = fresh, time.monotonic()
        return fresh

    def check(self) -> Checked:
        """Health: the policy, persistence, and what is unsafe about them."""
        try:
            self.refresh()
        except UnavailableError as exc:
            return Checked.unavailable(exc)
        policy = self.policy
        assert policy is not None
        problems: list[str] = []
        if policy.may_evict:
            problems.append(
                f"redis maxmemory-policy {policy.maxmemory_policy} may evict buffered events"
            )
        refused = self._refused_at is not None and (
            time.monotonic() - self._refused_at < REFUSED_SHOWN_S
        )
        if policy.full or refused:
            problems.append("redis is full: ingest and enqueue are refused (buffer_full)")
        if self._require_persistence and not policy.aof:
            problems.append("redis has no AOF and TALLY_REQUIRE_REDIS_PERSISTENCE is set")
        return Checked(policy.describe(), tuple(problems))
