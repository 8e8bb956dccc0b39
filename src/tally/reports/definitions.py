"""Report definitions (SPEC §11): a source, a format, a schedule and where the file goes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME = r"^[\w][\w .:/@()+-]{0,199}$"
MAX_LIMIT = 1000


class Format(StrEnum):
    """What a run writes."""

    CSV = "csv"
    JSON = "json"
    HTML = "html"
    PDF = "pdf"

    @property
    def media_type(self) -> str:
        """The file's Content-Type."""
        return {
            "csv": "text/csv; charset=utf-8",
            "json": "application/json",
            "html": "text/html; charset=utf-8",
            "pdf": "application/pdf",
        }[self.value]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Ranking(_Model):
    by: Literal["country", "category"] = "country"
    groups: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=200, description="groups to show (empty: all)"
    )
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT, description="entities per group")
    as_of: datetime | None = Field(
        default=None, description="a past analytics run (its backfill, or computed); None: live"
    )


class PopularitySource(_Ranking):
    """The popularity snapshot of chosen groups (SPEC §4)."""

    kind: Literal["popularity"]


class TrendingSource(_Ranking):
    """The trending snapshot of chosen groups (SPEC §4)."""

    kind: Literal["trending"]


class EventsSource(_Model):
    """Counts and weights by day and a dimension, over the last `days` (or start..end)."""

    kind: Literal["events"]
    dimension: Literal["event_type", "country", "category", "entity_type"] = "event_type"
    days: int = Field(default=7, ge=1, le=366)
    start: datetime | None = None
    end: datetime | None = None
    event_types: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    country: str | None = Field(default=None, max_length=64)


class JobsSource(_Model):
    """Task statistics of the last `hours`: runs, failures, retries, p50/p95 durations."""

    kind: Literal["jobs"]
    hours: float = Field(default=24.0, gt=0, le=24 * 31)
    tasks: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=100)


class SqlSource(_Model):
    """A parameterised read-only SELECT on the store (`{name:Type}` placeholders)."""

    kind: Literal["sql"]
    query: str = Field(min_length=1, max_length=20_000)
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=50)


Source = Annotated[
    PopularitySource | TrendingSource | EventsSource | JobsSource | SqlSource,
    Field(discriminator="kind"),
]


class DirectoryTarget(_Model):
    """A folder inside TALLY_REPORTS_DIR (`path` is relative to it)."""

    kind: Literal["directory"]
    path: str = Field(default="", max_length=300)

    @field_validator("path")
    @classmethod
    def _inside(cls, value: str) -> str:
        if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
            raise ValueError("path is relative to TALLY_REPORTS_DIR, not absolute")
        if ".." in re.split(r"[\\/]", value):
            raise ValueError("path may not leave TALLY_REPORTS_DIR (no '..')")
        return value.strip("/")


class EmailTarget(_Model):
    """An email with the file attached, through an alerts email channel (or ALERT_EMAIL_*)."""

    kind: Literal["email"]
    channel: str | None = Field(default=None, description="an alerts email channel's name")
    to: list[Annotated[str, Field(max_length=254)]] = Field(default_factory=list, max_length=50)
    subject: str | None = Field(default=None, max_length=500, description="Jinja2 template")
    body: str | None = Field(default=None, max_length=10_000, description="Jinja2 template")

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
                raise ValueError(f"{address!r} is not an email address")
        return value


class UrlTarget(_Model):
    """Any fsspec URL: `s3://bucket/prefix` (the s3 extra), `file:///srv/reports`, …"""

    kind: Literal["url"]
    url: str = Field(min_length=3, max_length=1000)


Target = Annotated[DirectoryTarget | EmailTarget | UrlTarget, Field(discriminator="kind")]


class Schedule(_Model):
    """A 5-field cron read in `timezone` (DST as the zone's clocks do it)."""

    cron: str
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris)") from None
        return value

    @field_validator("cron")
    @classmethod
    def _fires(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid 5-field cron (minute hour dom month dow)")
        try:
            croniter(value, datetime.now(UTC), max_years_between_matches=5).get_next(datetime)
        except CroniterBadDateError:
            raise ValueError(f"{value!r} never fires (no date matches it)") from None
        return value

    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return ZoneInfo(self.timezone)

    def next_after(self, at: float) -> float:
        """The first slot after `at` (epoch seconds)."""
        start = datetime.fromtimestamp(at, self.zone())
        found: datetime = croniter(self.cron, start).get_next(datetime)
        return found.timestamp()

    def last_at_or_before(self, at: float) -> float:
        """The latest slot at or before `at`."""
        start = datetime.fromtimestamp(at + 1e-3, self.zone())
        found: datetime = croniter(self.cron, start).get_prev(datetime)
        return found.timestamp()


class ReportIn(_Model):
    """A report as created or replaced through the API, the CLI or the dashboard."""

    name: str = Field(pattern=NAME)
    title: str | None = Field(default=None, max_length=300, description="Jinja2 template")
    description: str | None = Field(default=None, max_length=2000)
    source: Source
    format: Format = Format.CSV
    schedule: Schedule | None = None
    deliveries: list[Target] = Field(default_factory=list, max_length=10)
    filename: str | None = Field(
        default=None, max_length=200, description="Jinja2 template, without the extension"
    )
    enabled: bool = True

    def public(self) -> dict[str, Any]:
        """The definition as the API answers it (nothing here is secret)."""
        return self.model_dump(mode="json")
