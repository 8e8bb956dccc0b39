"""Maintenance jobs; for now the no-op that benchmarks and smoke tests use."""

from __future__ import annotations

import time
from typing import Any

from tally import keys
from tally.jobs import check_aborted, job, report_progress


@job(keys.TASK_NOOP, queue=keys.DEFAULT_QUEUE)
def noop(sleep_s: float = 0.0, steps: int = 1) -> dict[str, Any]:
    """Do nothing (benchmarks, smoke tests); with `sleep_s`, report progress in `steps`."""
    for step in range(steps):
        check_aborted()
        if sleep_s:
            time.sleep(sleep_s / steps)
        report_progress(100 * (step + 1) / steps, f"step {step + 1}/{steps}")
    return {"steps": steps}
