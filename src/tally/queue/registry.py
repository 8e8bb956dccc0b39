"""Deprecated: `@job` moved to `tally.jobs`; this name stays importable for one release."""

from __future__ import annotations

import warnings

from tally.jobs.registry import REGISTRY, TaskSpec, job, spec

warnings.warn(
    "tally.queue.registry is deprecated: use `from tally.jobs import job`",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["REGISTRY", "TaskSpec", "job", "spec"]
