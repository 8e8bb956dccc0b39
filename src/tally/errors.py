"""One tree of Tally's errors; library errors are translated into these at the boundary."""

from __future__ import annotations


class TallyError(Exception):
    """Raised when anything in Tally fails; the root every other error derives from."""


class ConfigError(TallyError):
    """Raised when settings are missing, contradictory or unsafe for the chosen mode."""


class ValidationFailed(TallyError):
    """Raised when input cannot be used at all; carries the field and the reason."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason
        self.message = message


class PayloadTooLarge(ValidationFailed):
    """Raised when a request body or batch passes the configured size limits."""


class NotFound(TallyError):
    """Raised when something asked for does not exist (yet): results before a first run."""


class TaskUnknown(NotFound):
    """Raised when a job names a task that no loaded module registered."""


class Conflict(TallyError):
    """Raised when a request contradicts the state of what it names: a finished job's abort."""

    def __init__(self, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnavailableError(TallyError):
    """Raised when a backing service (Redis, the store, the broker) cannot be reached."""

    reason = "unavailable"  # the API's `error.reason`
    retry_after_s: float = 5  # the API's Retry-After

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service} unavailable: {message}")
        self.service = service
        self.message = message


class BufferUnavailable(UnavailableError):
    """Raised when the event buffer cannot accept or hand out events (Redis down)."""

    def __init__(self, message: str) -> None:
        super().__init__("redis", message)


class RedisFull(BufferUnavailable):
    """Raised when Redis refuses a write because it is full (OOM) or cannot persist (MISCONF).

    Back-pressure, not a failure: nothing of the request was kept; retry later.
    """

    reason = "buffer_full"


class RedisMayEvict(BufferUnavailable):
    """Raised to refuse events while Redis's maxmemory-policy may evict the buffer."""

    reason = "redis_may_evict"
    retry_after_s = 60

    def __init__(self, policy: str) -> None:
        super().__init__(
            f"maxmemory-policy is {policy}: Redis may evict the event buffer and lose "
            "acknowledged events, so events are refused. Fix: set maxmemory-policy to "
            "noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf), or accept "
            "the risk with TALLY_ALLOW_EVICTING_REDIS=true"
        )
        self.policy = policy


class PersistenceRequired(BufferUnavailable):
    """Raised to refuse events while Redis has no AOF and TALLY_REQUIRE_REDIS_PERSISTENCE is set."""

    reason = "redis_not_persistent"
    retry_after_s = 60

    def __init__(self) -> None:
        super().__init__(
            "Redis has no AOF (appendonly no) and TALLY_REQUIRE_REDIS_PERSISTENCE is set: "
            "a Redis restart would lose buffered events. Fix: CONFIG SET appendonly yes"
        )


class BreakerOpen(UnavailableError):
    """Raised when a call is refused because its circuit breaker is open; jobs are deferred."""

    def __init__(self, breaker: str, retry_after_s: float) -> None:
        super().__init__(
            breaker, f"circuit breaker {breaker!r} is open; next try in {retry_after_s:.0f} s"
        )
        self.breaker = breaker
        self.retry_after_s = retry_after_s


class RateLimited(TallyError):
    """Raised when a token sends more events per second than TALLY_INGEST_RATE_LIMIT allows."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(
            f"more than {limit} events per second for this token; retry in {retry_after_s} s"
        )
        self.limit = limit
        self.retry_after_s = retry_after_s


class StoreError(TallyError):
    """Raised when the analytics store rejects a query or an insert."""


class StoreUnavailable(UnavailableError):
    """Raised when the analytics store cannot be opened or reached."""

    def __init__(self, message: str) -> None:
        super().__init__("store", message)


class StoreLocked(StoreUnavailable):
    """Raised when an embedded store's data directory is already owned by another process."""


class JobError(TallyError):
    """Raised when a job cannot be enqueued or its result cannot be fetched."""


class JobTimeout(JobError):
    """Raised when waiting for a job's result takes longer than the caller allowed."""


class JobFailed(JobError):
    """Raised inside a worker to fail a job for good (no retry): a timeout, bad arguments."""


class JobInterrupted(BaseException):
    """Raised inside a running job to stop it; not an Exception, so `except Exception` in
    user code cannot swallow it."""


class JobAborted(JobInterrupted):
    """Raised inside a running job when someone aborted it."""


class JobTimedOut(JobInterrupted):
    """Raised inside a running job when it passes its time limit."""


class JobRequeued(JobInterrupted):
    """Raised inside a running job when its worker is shutting down and the job outlived
    TALLY_SHUTDOWN_GRACE_S; the job goes back to its queue without using a try."""


class PdfUnavailable(UnavailableError):
    """Raised when a PDF is asked for and WeasyPrint or the libraries it loads are missing."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "pdf",
            "PDF reports need Debian's libpango-1.0-0 and libpangoft2-1.0-0 and a font "
            "(apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core); CSV, JSON "
            f"and HTML work without them ({detail})",
        )
