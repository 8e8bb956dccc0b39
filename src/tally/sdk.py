"""The Python SDK: `track_event`, `flush_events_now`, `get_queue_size` (seed 004's API).

In Redis mode `track_event` validates and appends straight to the Redis Stream (one
round trip, bounded by `TALLY_REDIS_TIMEOUT_S`); once it returns, the event is durable.
In embedded mode it uses this process's all-in-one runtime, started on first use.
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import datetime
from typing import Any

from tally.errors import ValidationFailed
from tally.jobs.client import PRIORITY_DEFAULT
from tally.jobs.record import public
from tally.runtime.runtime import Runtime, embedded_runtime, stop_embedded
from tally.settings import Mode, Settings

log = logging.getLogger("tally.sdk")


class Client:
    """An SDK client bound to one configuration."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    @property
    def runtime(self) -> Runtime:
        """The runtime behind this client (created on first use)."""
        with self._lock:
            if self._runtime is None:
                if self.settings.mode is Mode.EMBEDDED:
                    # Said where it writes: no REDIS_URL means a store of this process's own.
                    where = self.settings.store.chdb_path.resolve()
                    log.warning(
                        "tally SDK: no REDIS_URL, so events go to an embedded store in %s "
                        "(set REDIS_URL, or TALLY_DATA_DIR, to send them elsewhere)",
                        where,
                    )
                    self._runtime = embedded_runtime(self.settings, announce=False)
                    # Stop it (flushing its store closed) before the interpreter tears down:
                    # chDB complains at exit about a store still open.
                    atexit.register(stop_embedded)
                else:
                    self._runtime = Runtime(self.settings, run_tasks=False)
            return self._runtime

    def track_event(
        self,
        event_type: str,
        *,
        entity_type: str | None = None,
        entity_id: str | int | None = None,
        user_id: str | int | None = None,
        session_id: str | None = None,
        country: str | None = None,
        category: str | None = None,
        event_metadata: dict[str, Any] | str | None = None,
        ip_address: str | None = None,
        user_agent: str | None = None,
        referrer: str | None = None,
        created_at: datetime | str | None = None,
        event_id: str | None = None,
    ) -> str:
        """Validate one event and buffer it; return its event_id.

        Raises `ValidationFailed` (naming the field) for a bad event and
        `BufferUnavailable` when Redis cannot be reached: then nothing was kept.
        """
        raw: dict[str, Any] = {
            "event_type": event_type,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "user_id": user_id,
            "session_id": session_id,
            "country": country,
            "category": category,
            "event_metadata": event_metadata,
            "ip_address": ip_address,
            "user_agent": user_agent,
            "referrer": referrer,
            "created_at": created_at if created_at is not None else datetime.now().astimezone(),
            "event_id": event_id,
        }
        item = {k: v for k, v in raw.items() if v is not None}
        result = self.runtime.events.ingest([item])
        if result.accepted.rejections:
            r = result.accepted.rejections[0]
            raise ValidationFailed(r.field, r.reason.value, r.message)
        return result.accepted.event_ids[0]

    def flush_events_now(self, *, wait: bool = True, timeout_s: float = 60.0) -> dict[str, Any]:
        """Flush the buffer into the store now (for graceful shutdown or tests)."""
        return self.runtime.store.flush(wait=wait, timeout_s=timeout_s)

    def get_queue_size(self) -> int:
        """Events waiting in the buffer."""
        return self.runtime.events.buffer.size()

    def enqueue(self, task: str, /, *, priority: int = PRIORITY_DEFAULT, **kwargs: Any) -> str:
        """Validate and enqueue a job of `task` with these arguments; return its job id."""
        record, _ = self.runtime.jobs.enqueue(task, kwargs=kwargs, priority=priority)
        return record.job_id

    def job(self, job_id: str) -> dict[str, Any]:
        """A job as the API shows it: status, progress, attempts, result or error."""
        return public(self.runtime.jobs.get(job_id))

    def wait(self, job_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """Block until the job finished; return it (JobTimeout after `timeout_s`)."""
        return public(self.runtime.jobs.wait(job_id, timeout_s))


class AnalyticsService:
    """Seed 004's `analytics_service`: `track_event`, `flush_events_now`, `get_queue_size`.

    For code written against it: `from tally import analytics_service` replaces its
    import, and the calls stay as they were.
    """

    def __init__(self, client: Client | None = None) -> None:
        self._client = client

    @property
    def client(self) -> Client:
        """The SDK client behind it (the module's default one unless given)."""
        return self._client or _client()

    def track_event(self, event: dict[str, Any] | str | None = None, /, **fields: Any) -> str:
        """Buffer one event, given as keywords or as seed 004's dict; return its event_id."""
        if isinstance(event, dict):
            fields = {**event, **fields}
        elif event is not None:
            fields["event_type"] = event
        event_type = fields.pop("event_type", None)
        if not isinstance(event_type, str):
            raise ValidationFailed("event_type", "missing", "event_type: a string is required")
        return self.client.track_event(event_type, **fields)

    def flush_events_now(self) -> dict[str, Any]:
        """Flush the buffer into the store now and wait for it (graceful shutdown, tests)."""
        return self.client.flush_events_now()

    def get_queue_size(self) -> int:
        """Events waiting to be flushed."""
        return self.client.get_queue_size()


analytics_service = AnalyticsService()

_default: Client | None = None
_default_lock = threading.Lock()


def configure(settings: Settings | None = None) -> Client:
    """Set the module-level client the functions below use."""
    global _default
    with _default_lock:
        _default = Client(settings)
        return _default


def _client() -> Client:
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def track_event(event_type: str, **fields: Any) -> str:
    """Buffer one event with the default client; see `Client.track_event`."""
    return _client().track_event(event_type, **fields)


def flush_events_now(*, wait: bool = True, timeout_s: float = 60.0) -> dict[str, Any]:
    """Flush now with the default client."""
    return _client().flush_events_now(wait=wait, timeout_s=timeout_s)


def get_queue_size() -> int:
    """Events waiting in the buffer, with the default client."""
    return _client().get_queue_size()


def enqueue(task: str, /, *, priority: int = PRIORITY_DEFAULT, **kwargs: Any) -> str:
    """Enqueue a job with the default client; see `Client.enqueue`."""
    return _client().enqueue(task, priority=priority, **kwargs)
