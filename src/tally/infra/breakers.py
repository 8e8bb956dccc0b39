"""Circuit breakers (SPEC §6) whose state every process shares through Redis (pybreaker)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import pybreaker
import redis
from prometheus_client import Gauge

from tally import keys
from tally.errors import (
    BreakerOpen,
    ConfigError,
    JobAborted,
    JobFailed,
    UnavailableError,
    ValidationFailed,
)
from tally.infra.health import Checked
from tally.infra.redis import redis_errors

# pybreaker's Redis storage logs a traceback for every call while Redis is down, then falls
# back to "closed"; Tally reports Redis being down once, in its own words (infra.redis).
logging.getLogger("pybreaker").setLevel(logging.CRITICAL)

BREAKER_STATE = Gauge(
    "tally_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open", ["breaker"]
)


@dataclass(frozen=True, slots=True)
class BreakerSpec:
    """A breaker opens after `fail_max` failures in a row and stays open `reset_timeout_s`."""

    name: str
    fail_max: int
    reset_timeout_s: float


# Seed 001's breakers and thresholds.
DEFAULTS: Final = (
    BreakerSpec("database", 5, 60),
    BreakerSpec("dbt", 3, 120),
    BreakerSpec("external_api", 3, 120),
)
_STATE_VALUE: Final = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1}


# Not failures of what the breaker guards: the caller's own mistakes and a user's abort.
# pybreaker counts them as the service answering (the run of failures starts again);
# a timeout inside the guarded block is a failure.
# Nor is Tally's own Redis (buffer, job index, broker) being unreachable: that says nothing
# about the database or API behind the breaker.
def _tally_redis_down(exc: BaseException) -> bool:
    return isinstance(exc, UnavailableError) and exc.service in ("redis", "broker")


_NOT_FAILURES: Final[tuple[Any, ...]] = (
    ValidationFailed,
    JobFailed,
    JobAborted,
    BreakerOpen,
    _tally_redis_down,
)


def specs(overrides: Mapping[str, Mapping[str, float]]) -> list[BreakerSpec]:
    """The default breakers with the settings' overrides and additions applied."""
    merged = {s.name: s for s in DEFAULTS}
    for name, values in overrides.items():
        base = merged.get(name, BreakerSpec(name, 3, 60))
        unknown = set(values) - {"fail_max", "reset_timeout_s"}
        if unknown:
            raise ConfigError(f"TALLY_BREAKERS.{name}: unknown keys {sorted(unknown)}")
        fail_max = int(values.get("fail_max", base.fail_max))
        reset = float(values.get("reset_timeout_s", base.reset_timeout_s))
        if fail_max < 1 or reset <= 0:
            raise ConfigError(f"TALLY_BREAKERS.{name}: fail_max >= 1 and reset_timeout_s > 0")
        merged[name] = BreakerSpec(name, fail_max, reset)
    return list(merged.values())


class Breakers:
    """This process's view of the deployment's breakers (Redis) or its own (embedded)."""

    def __init__(self, client: redis.Redis | None, breaker_specs: list[BreakerSpec]) -> None:
        self._client = client
        self._specs = {s.name: s for s in breaker_specs}
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        """Every configured breaker."""
        return list(self._specs)

    def _spec(self, name: str) -> BreakerSpec | None:
        # `external_api:<target>`: a breaker of its own per target with external_api's limits,
        # so one receiver that is down does not stop the others.
        return self._specs.get(name) or self._specs.get(name.partition(":")[0])

    def _get(self, name: str) -> pybreaker.CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                spec = self._spec(name)
                if spec is None:
                    raise ConfigError(
                        f"unknown circuit breaker {name!r}; known: {sorted(self._specs)} "
                        "(add one with TALLY_BREAKERS)"
                    )
                storage: pybreaker.CircuitBreakerStorage
                if self._client is None:
                    storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
                else:
                    # The storage writes its initial state at once: Redis errors here are ours.
                    with redis_errors(f"circuit breaker {name}"):
                        storage = pybreaker.CircuitRedisStorage(
                            pybreaker.STATE_CLOSED, self._client, keys.breaker_namespace(name)
                        )
                breaker = pybreaker.CircuitBreaker(
                    fail_max=spec.fail_max,
                    reset_timeout=spec.reset_timeout_s,
                    state_storage=storage,
                    exclude=list(_NOT_FAILURES),
                    name=name,
                )
                self._breakers[name] = breaker
            return breaker

    def retry_after_s(self, name: str) -> float:
        """Seconds until an open breaker lets a trial call through; 0 when it would now."""
        breaker = self._get(name)
        if breaker.current_state != pybreaker.STATE_OPEN:
            return 0.0
        opened_at = breaker._state_storage.opened_at  # pybreaker keeps no public accessor
        if opened_at is None:
            return 0.0
        spec = self._spec(name)
        assert spec is not None  # _get refused unknown names
        return max(0.0, opened_at.timestamp() + spec.reset_timeout_s - time.time())

    def check(self, name: str) -> None:
        """Refuse now (BreakerOpen) when the breaker is open and its timeout has not passed."""
        wait_s = self.retry_after_s(name)
        if wait_s > 0:
            raise BreakerOpen(name, wait_s)

    @contextmanager
    def guard(self, name: str) -> Iterator[None]:
        """Run the block through the breaker: failures count, an open breaker refuses."""
        breaker = self._get(name)
        ran = False
        try:
            with breaker.calling():
                ran = True
                yield
        except pybreaker.CircuitBreakerError as exc:
            if ran and exc.__context__ is not None:
                # The block ran and its failure opened the breaker: that failure is the
                # outcome (it uses a try); only calls refused without running are deferred.
                raise exc.__context__ from None
            raise BreakerOpen(name, max(1.0, self.retry_after_s(name))) from None
        finally:
            BREAKER_STATE.labels(breaker=name).set(_STATE_VALUE.get(breaker.current_state, 2))

    def states(self) -> list[dict[str, Any]]:
        """Name, state, failures in a row, thresholds and the wait left, for every breaker.

        UnavailableError when Redis cannot say: pybreaker would report its fallback state
        (closed) instead, which is not what the breakers are.
        """
        if self._client is not None:
            client = self._client
            with redis_errors("circuit breakers"):
                client.ping()
        out = []
        for name, spec in self._specs.items():
            breaker = self._get(name)
            state = breaker.current_state
            BREAKER_STATE.labels(breaker=name).set(_STATE_VALUE.get(state, 2))
            out.append(
                {
                    "name": name,
                    "state": state,
                    "failures": breaker.fail_counter,
                    "fail_max": spec.fail_max,
                    "reset_timeout_s": spec.reset_timeout_s,
                    "retry_after_s": round(self.retry_after_s(name), 1),
                }
            )
        return out


class BreakersCheck:
    """Health: each breaker's state (reported, not a problem: an open breaker protects)."""

    name = "breakers"

    def __init__(self, breakers: Breakers) -> None:
        self._breakers = breakers

    def check(self) -> Checked:
        try:
            return Checked(self._breakers.states())
        except UnavailableError as exc:
            return Checked.unavailable(exc)
