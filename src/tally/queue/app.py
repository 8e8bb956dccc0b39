"""The Celery app: queues, routes, and a Redis configuration hardened against lost work."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from kombu import Queue

from tally import keys
from tally.infra.breakers import Breakers
from tally.jobs.base import JobIndex
from tally.jobs.registry import HARD_LIMIT_GRACE_S, REGISTRY, import_task_modules, limits
from tally.jobs.resources import Resources
from tally.queue.base import TallyCelery
from tally.queue.beat import beat_schedule
from tally.queue.transport import TRANSPORT_PATH
from tally.settings import Settings

# Short etas (< HOLD_AFTER_S, and canvas messages) wait in worker memory; at most this many.
ETA_TASKS_IN_MEMORY = 1000


class _NoDefaultHostNotice(logging.Filter):
    """kombu says "No hostname was supplied" for the in-memory transport, which has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No hostname was supplied")


logging.getLogger("kombu.connection").addFilter(_NoDefaultHostNotice())


def hard_limit_s(settings: Settings) -> int:
    """The longest hard time limit of any registered task."""
    hard = [limits(spec, settings.jobs)[1] for spec in REGISTRY.values()]
    return max(hard, default=settings.jobs.timeout_s + HARD_LIMIT_GRACE_S)


def visibility_timeout_s(settings: Settings) -> int:
    """How long a delivered, unacknowledged message waits before it is delivered again.

    A worker killed mid-job (SIGKILL, OOM, lost host) never acks: its job is re-delivered
    at most `visibility_timeout_s + redelivery_check_s` after it was delivered, once a
    worker runs. It must exceed the longest hard limit, or a long job runs twice (#5935).
    """
    return hard_limit_s(settings) + settings.jobs.visibility_margin_s


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for the mode in force; each line says why it is there."""
    jobs, redis_timeout_s = settings.jobs, settings.redis.timeout_s
    redis_url = settings.redis.url_in_force()
    conf: dict[str, Any] = {
        # JSON only: pickle would let whoever can write to Redis run code in the workers.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # Ack after the task finishes, so a worker killed mid-task (SIGKILL, OOM) leaves the
        # message unacknowledged and it is delivered again (celery#3541). Tasks are idempotent.
        "task_acks_late": True,
        # If a pool child dies, reject (requeue) its message instead of acking it as failed.
        "task_reject_on_worker_lost": True,
        # A worker reserves only the task it is about to run: others can take the rest, and a
        # killed worker takes no reserved-but-unstarted work down with it.
        "worker_prefetch_multiplier": 1,
        # With acks_late, tasks running when the broker connection drops are cancelled and
        # re-delivered rather than finishing into a channel that can no longer ack them.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_soft_time_limit": jobs.timeout_s,
        "task_time_limit": jobs.timeout_s + HARD_LIMIT_GRACE_S,
        # Tally's job index records start, progress, result and error (with a TTL); Celery's
        # result backend is left unwritten, so it cannot grow keys without TTL (#7801).
        "task_ignore_result": True,
        "task_track_started": False,
        "result_expires": timedelta(seconds=jobs.result_expires_s),
        # Delays above a second wait in Redis (the job index) and are sent when due; what is
        # left in worker memory is bounded.
        "worker_eta_task_limit": ETA_TASKS_IN_MEMORY,
        # Start even if the broker is not up yet; keep retrying instead of exiting.
        "broker_connection_retry_on_startup": True,
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        # Callers (the API) fail fast with 503 instead of hanging when Redis is down.
        "broker_connection_timeout": redis_timeout_s,
        "task_queues": [Queue(name) for name in keys.QUEUES],
        "task_default_queue": keys.DEFAULT_QUEUE,
        "task_routes": {name: {"queue": spec.queue} for name, spec in REGISTRY.items()},
        # Priorities 0-9 per queue: one Redis list per step, the most urgent read first.
        "task_queue_max_priority": 9,
        "task_default_priority": 4,
        "worker_hijack_root_logger": False,
        # Tally's log handler writes to stderr; redirected into Celery's logger it would loop
        # back into itself, and Celery's proxy drops such records: the job lines vanished.
        "worker_redirect_stdouts": False,
        "beat_schedule": beat_schedule(settings),
        # Beat wakes at least this often, so the leader refreshes its lease in time.
        "beat_max_loop_interval": max(1.0, jobs.beat_lock_ttl_s / 3),
        "tally_beat_lock_ttl_s": jobs.beat_lock_ttl_s,
    }
    if redis_url:
        transport = {
            # An unacknowledged message is re-delivered after this long. It must exceed the
            # longest task's hard limit, or a long task runs twice (celery#5935).
            "visibility_timeout": visibility_timeout_s(settings),
            # Workers sweep for messages past their visibility timeout this often, with no
            # throttle; kombu's default (10 s x 10) adds up to 100 s to every re-delivery.
            "unacked_restore_interval": jobs.redelivery_check_s,
            "unacked_restore_throttle": 1,
            "socket_timeout": redis_timeout_s,
            "socket_connect_timeout": redis_timeout_s,
            "retry_on_timeout": True,
            "priority_steps": list(keys.PRIORITY_STEPS),
            "sep": keys.BROKER_PRIORITY_SEP,
            "queue_order_strategy": "priority",
        }
        conf.update(
            # Task events (pub/sub, nothing stored) let `tally flower` show every job.
            worker_send_task_events=True,
            task_send_sent_event=True,
            broker_url=redis_url,
            # Kombu's Redis transport, minus a reconnect crash (see tally.queue.transport).
            broker_transport=TRANSPORT_PATH,
            result_backend=redis_url,
            broker_transport_options=transport,
            result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
            redis_socket_timeout=redis_timeout_s,
            redis_socket_connect_timeout=redis_timeout_s,
            redis_retry_on_timeout=True,
            redis_backend_health_check_interval=15,
        )
    else:
        conf.update(
            broker_url="memory://",
            result_backend="cache+memory://",
            # One backend object for all threads: the in-memory result cache would otherwise
            # be per thread, and the caller would never see the worker thread's result.
            result_backend_thread_safe=True,
            # The in-memory transport polls; its 1 s default gives ~1 s latency per job.
            broker_transport_options={"polling_interval": jobs.embedded_poll_interval_s},
        )
    return conf


def create_app(
    settings: Settings,
    index: JobIndex,
    breakers: Breakers,
    *,
    task_modules: list[str],
    resources: Resources | None = None,
) -> TallyCelery:
    """A Celery app for `settings` with the tasks of `task_modules` registered.

    `resources`: the services this process offers its jobs (None: it runs no job).
    """
    from tally.queue.worker import runner, signals

    import_task_modules(task_modules)
    app = TallyCelery("tally", set_as_current=False)
    app.config_from_object(celery_config(settings))
    app.resources = resources
    app.index = index
    app.breakers = breakers
    app.settings = settings
    runner.register_all(app, settings)
    signals.connect(app)
    return app
