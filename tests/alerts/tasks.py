"""A user task for the `job` rule tests (TALLY_TASK_MODULES=tests.alerts.tasks)."""

from __future__ import annotations

from tally.jobs import job


@job("test.export", max_tries=2, backoff_s=1)
def export(fail: bool) -> str:
    """Fails on every try when told to (so a failure is for good after its second try)."""
    if fail:
        raise RuntimeError("the export target refused the file")
    return "exported"
