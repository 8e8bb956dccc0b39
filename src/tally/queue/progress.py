"""Deprecated: moved to `tally.jobs`; this name stays importable for one release."""

from __future__ import annotations

import warnings

from tally.jobs.context import JobContext, check_aborted, current_job, report_progress

warnings.warn(
    "tally.queue.progress is deprecated: use `from tally.jobs import JobContext, report_progress`",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["JobContext", "check_aborted", "current_job", "report_progress"]
