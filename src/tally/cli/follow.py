"""Follow a job to its end with a progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tally.cli.common import console
from tally.cli.session import Session
from tally.errors import JobTimeout
from tally.jobs.record import FINAL, JobRecord


def track(
    runtime: Session,
    job_id: str,
    on_progress: Callable[[int, str], None],
    timeout_s: float,
    poll_s: float = 0.1,
) -> JobRecord:
    """Poll a job, reporting (pct, message) as it moves; return its final record."""
    deadline = time.monotonic() + timeout_s
    while True:
        record = runtime.jobs.get(job_id)
        if record.status in FINAL:
            if record.status.value == "succeeded":
                on_progress(100, "done")
            return record
        on_progress(record.progress or 0, record.progress_message or record.status.value)
        if time.monotonic() >= deadline:
            raise JobTimeout(f"job {job_id} is still {record.status} after {timeout_s:g} s")
        time.sleep(poll_s)


def follow(runtime: Session, job_id: str, label: str, timeout_s: float) -> JobRecord:
    """Show a job's progress bar until it ends; return its final record."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("queued", total=100)

        def show(pct: int, message: str) -> None:
            progress.update(bar, completed=pct, description=message)

        return track(runtime, job_id, show, timeout_s)
