"""Tally's Celery app at module level, built from the settings: `celery -A tally.celery_app`.

Operators keep Celery's own tools against a running Tally: `inspect active|stats|
registered`, `status`, `events`, `control`, a plainly started Flower or celery-exporter.
`tally worker` and `tally beat` stay the way to run them; `celery -A tally.celery_app
worker` gets the same heartbeat and held-job promoter through Celery's worker signals,
and `celery -A tally.celery_app beat` Tally's leader-elected scheduler.
"""

from __future__ import annotations

from tally.queue.engine import prepare_for_celery_cli
from tally.runtime.runtime import Runtime
from tally.settings import Mode, Settings

_settings = Settings()
if _settings.mode is Mode.EMBEDDED:
    # Celery's tools talk to a broker; the embedded mode has none outside its process.
    raise SystemExit("tally.celery_app: no REDIS_URL; Celery's tools need Tally's Redis mode")

runtime = Runtime(_settings, run_tasks=True)
app = runtime.app
celery = app  # the name `celery -A` looks for first


def _ready(hostname: str, queues: list[str], concurrency: int, pool: str) -> None:
    runtime.start_worker_services(hostname, queues, concurrency, pool)
    runtime.on_worker_ready(queues)


prepare_for_celery_cli(
    app, schedule_path=_settings.data_dir / "beat-schedule", on_ready=_ready,
    on_shutdown=runtime.stop, shutdown_grace_s=_settings.jobs.shutdown_grace_s,
)  # fmt: skip
