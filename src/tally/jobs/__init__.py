"""The job API, Celery-free: `@job`, `JobContext`, progress, aborts, the client and the index.

    from tally.jobs import job, JobContext, report_progress

The engine that runs jobs (Celery) lives in `tally.queue`; nothing here imports it.
"""

from tally.jobs.client import PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN, JobClient
from tally.jobs.context import JobContext, check_aborted, current_job, report_progress
from tally.jobs.record import JobRecord, Status
from tally.jobs.registry import WhenOpen, job
from tally.jobs.schedule import Cron, Every

__all__ = [
    "PRIORITY_DEFAULT",
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "Cron",
    "Every",
    "JobClient",
    "JobContext",
    "JobRecord",
    "Status",
    "WhenOpen",
    "check_aborted",
    "current_job",
    "job",
    "report_progress",
]
