"""Analytics as the API, CLI and SDK see them: trigger runs, read the published results."""

from __future__ import annotations

from typing import Any

from tally import keys
from tally.analytics.compute import iso, parse_as_of
from tally.analytics.params import AnalyticsParams
from tally.analytics.publish import NO_RUN_YET, Publication, read_metadata, read_results
from tally.errors import NotFound
from tally.jobs.client import JobClient


class AnalyticsService:
    """Popularity and trending (SPEC §4): runs go to the store's owner, reads to the cache."""

    def __init__(self, jobs: JobClient, publication: Publication, params: AnalyticsParams):
        self._jobs = jobs
        self.publication = publication
        self.params = params

    def run(self, as_of: str | None, *, wait: bool, timeout_s: float) -> dict[str, Any]:
        """Enqueue an analytics run (as_of checked here, before it reaches a worker)."""
        when = None if as_of is None else iso(parse_as_of(as_of))
        if not wait:
            job_id = self._jobs.send(keys.TASK_ANALYTICS_RUN, as_of=when)
            return {"job_id": job_id, "status": "queued", "as_of": when}
        metadata: dict[str, Any] = self._jobs.call(keys.TASK_ANALYTICS_RUN, timeout_s, as_of=when)
        return metadata

    def results(self, metric: str, by: str, group: str | None, limit: int | None) -> dict[str, Any]:
        """A published result set (NotFound before the first run)."""
        return read_results(self.publication, metric, by, group, limit)

    def metadata(self) -> dict[str, Any]:
        """The last run's metadata (NotFound before the first run)."""
        metadata = read_metadata(self.publication)
        if metadata is None:
            raise NotFound(NO_RUN_YET)
        return metadata
