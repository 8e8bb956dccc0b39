"""Tasks declare their schedule beside themselves; beat builds its table from the registry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from celery.schedules import crontab

from tally.errors import ConfigError
from tally.jobs import Cron, Every, job
from tally.jobs.registry import REGISTRY, import_task_modules, schedules, startup_tasks
from tally.queue.beat import beat_schedule, schedule_table
from tally.runtime.runtime import BUILTIN_TASK_MODULES
from tally.settings import AnalyticsSettings, FlushSettings, Settings


@pytest.fixture
def hourly_user_task() -> Iterator[str]:
    """A user task with a cron of its own, removed from the registry afterwards."""

    @job("test.hourly", schedule=Cron("0 * * * *"), schedule_name="user-hourly")
    def hourly() -> int:
        return 1

    yield "test.hourly"
    REGISTRY.pop("test.hourly", None)


def _settings(**analytics: object) -> Settings:
    return Settings(
        flush=FlushSettings(interval_s=7),
        analytics=AnalyticsSettings(**analytics),  # type: ignore[arg-type]
    )


def test_built_in_tasks_declare_their_schedules_from_their_sections() -> None:
    import_task_modules(list(BUILTIN_TASK_MODULES))
    entries = {e.name: e for e in schedules(_settings(schedule="*/5 * * * *"))}
    assert entries["flush-events"].task == "events.flush"
    assert entries["flush-events"].when == Every(7, expires_s=7)
    assert entries["analytics-daily"].when == Cron("*/5 * * * *", "TALLY_ANALYTICS_SCHEDULE")
    table = beat_schedule(_settings())
    assert table["flush-events"]["schedule"] == timedelta(seconds=7)
    assert table["flush-events"]["options"] == {"expires": 7}
    assert isinstance(table["analytics-daily"]["schedule"], crontab)


def test_the_schedule_table_shows_each_entrys_own_cron(hourly_user_task: str) -> None:
    import_task_modules(list(BUILTIN_TASK_MODULES))
    now = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    rows = {r["name"]: r for r in schedule_table(_settings(schedule="15 3 * * *"), now)}
    assert rows["user-hourly"]["every"] == "0 * * * * (cron, UTC)"
    assert rows["user-hourly"]["next_run"] == "2026-12-01T11:00:00+00:00"
    assert rows["analytics-daily"]["every"] == "15 3 * * * (cron, UTC)"
    assert rows["analytics-daily"]["next_run"] == "2026-12-02T03:15:00+00:00"
    assert rows["flush-events"]["every"] == "every 7 s"


def test_start_up_tasks_follow_their_setting_and_queue() -> None:
    import_task_modules(list(BUILTIN_TASK_MODULES))
    assert "analytics.run" in startup_tasks(_settings(on_startup=True), ["analytics"])
    assert "analytics.run" not in startup_tasks(_settings(on_startup=False), ["analytics"])
    assert "analytics.run" not in startup_tasks(_settings(on_startup=True), ["events"])


def test_a_bad_declaration_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigError, match="5 cron fields"):
        Cron("every day")

    def untyped(section):  # type: ignore[no-untyped-def]
        return Every(1)

    @job("test.untyped", schedule=untyped)
    def bad() -> None:
        return None

    try:
        with pytest.raises(ConfigError, match="annotated with its section"):
            schedules(Settings())
    finally:
        REGISTRY.pop("test.untyped", None)


def test_the_flush_declares_the_database_breaker_it_goes_through() -> None:
    # GET /api/v1/tasks lists what the registry says: the flush goes through `database`
    import_task_modules(list(BUILTIN_TASK_MODULES))
    described = {t["name"]: t for t in (s.describe() for s in REGISTRY.values())}
    assert described["events.flush"]["breakers"] == ["database"]
    assert described["analytics.run"]["breakers"] == ["database"]
