"""The project's own habits: `make check` leaves out slow tests, settings keep their names."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tally.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_not_slow_leaves_out_every_chaos_and_browser_test() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not slow", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    assert len(ids) > 100, out.stdout[-2000:]
    assert [i for i in ids if i.startswith(("tests/chaos/", "tests/dashboard/test_browser"))] == []


def test_each_environment_name_reaches_its_section(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "REDIS_URL": "redis://127.0.0.1:6390/3",
        "CLICKHOUSE_HOST": "ch.internal",
        "CLICKHOUSE_USER": "analyst",
        "TALLY_FLUSH_INTERVAL_S": "7",
        "ARQ_JOB_TIMEOUT": "42",
        "TALLY_TOP_N": "9",
        "TALLY_INGEST_RATE_LIMIT": "5",
        "TALLY_DASHBOARD_PUBLIC": "true",
        "TALLY_DATA_DIR": "/srv/tally",
        "TALLY_REPORT_RETENTION_DAYS": "14",
    }.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert s.redis.url_in_force() == "redis://127.0.0.1:6390/3"
    assert s.mode.value == "redis"
    assert (s.store.server_url(), s.store.clickhouse_user) == ("http://ch.internal:8123", "analyst")
    assert (s.flush.interval_s, s.jobs.timeout_s, s.analytics.top_n) == (7, 42, 9)
    assert (s.ingest.rate_limit, s.dashboard.public) == (5, True)
    assert s.data_dir == s.metadata.data_dir == Path("/srv/tally")
    assert (s.reports.retention_days, s.reports.directory) == (14, Path("/srv/tally/reports"))


def test_the_old_registry_path_still_imports_with_a_deprecation_warning() -> None:
    sys.modules.pop("tally.queue.registry", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from tally.queue.registry import job  # noqa: F401
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
