"""Analytics as the API, CLI and SDK see them: trigger runs, read the published results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tally import keys
from tally.analytics.compute import iso, key_time, parse_as_of
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

    def run(
        self, as_of: str | None, *, wait: bool, timeout_s: float, publish: bool = False
    ) -> dict[str, Any]:
        """Enqueue an analytics run (as_of checked here, before it reaches a worker).

        A run as of a past time is a backfill: it publishes under keys of its own (see
        `target`) unless `publish` says to replace the live results.
        """
        when = None if as_of is None else iso(parse_as_of(as_of))
        args: dict[str, Any] = {"as_of": when, "publish": publish or when is None}
        if not wait:
            job_id = self._jobs.send(keys.TASK_ANALYTICS_RUN, **args)
            return {"job_id": job_id, "status": "queued", **args}
        metadata: dict[str, Any] = self._jobs.call(keys.TASK_ANALYTICS_RUN, timeout_s, **args)
        return metadata

    def target(self, as_of: str | datetime | None) -> Publication:
        """The live results (as_of None), or a backfill's, under keys of its own."""
        if as_of is None:
            return self.publication
        live = self.publication
        prefix = keys.backfill_prefix(live.prefix, key_time(as_of))
        return Publication(live.cache, prefix, live.ttl_s)

    @staticmethod
    def normalise_group(by: str, group: str) -> str:
        """A group as ingest stores it: countries upper-case (`fr` is `FR`)."""
        return group.strip().upper() if by == "country" else group.strip()

    def results(
        self,
        metric: str,
        by: str,
        group: str | None,
        limit: int | None,
        *,
        as_of: str | datetime | None = None,
    ) -> dict[str, Any]:
        """A published result set: live, or a backfill's (NotFound before its run)."""
        if group is not None:
            group = self.normalise_group(by, group)
        return read_results(self.target(as_of), metric, by, group, limit)

    def metadata(self, *, as_of: str | datetime | None = None) -> dict[str, Any]:
        """The last run's metadata, or a backfill's (NotFound before it ran)."""
        metadata = read_metadata(self.target(as_of))
        if metadata is None:
            raise NotFound(NO_RUN_YET if as_of is None else f"no backfill run as of {as_of}")
        return metadata
