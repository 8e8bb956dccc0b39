"""`tally up`'s plan and supervisord config from the settings (seed 001's start-all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tally import keys
from tally.cli.processes import worker_concurrency
from tally.cli.supervise import Place, config_text, plan
from tally.settings import Settings


def settings_from(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in ("REDIS_URL", "CLICKHOUSE_URL", "TALLY_FLOWER_PASSWORD", "PROMETHEUS_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_a_server_store_gets_a_worker_per_queue_at_seed_001s_concurrencies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Redis mode on a ClickHouse server, Flower's password and a metrics port
    settings = settings_from(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0",
                             CLICKHOUSE_URL="http://127.0.0.1:8123", TALLY_FLOWER_PASSWORD="pw",
                             FLOWER_PORT="5600", PROMETHEUS_PORT="9100",
                             WORKER_CONCURRENCY_ALERTS="6")  # fmt: skip
    # When planned
    chosen = plan(settings, hostname="h")
    # Then every role has its process, each worker on its queue at its concurrency
    names = [p.name for p in chosen.programs]
    assert names == ["api", *(f"worker-{q}" for q in keys.QUEUES), "beat", "flower", "metrics"]
    workers = {p.name: p.args for p in chosen.programs if p.name.startswith("worker-")}
    concurrency = {n: int(a[a.index("-c") + 1]) for n, a in workers.items()}
    assert concurrency == {"worker-events": 2, "worker-analytics": 2, "worker-dbt": 1,
                           "worker-alerts": 6, "worker-reports": 2, "worker-monitoring": 1,
                           "worker-default": 2}  # fmt: skip
    assert workers["worker-dbt"][-2:] == ("--name", "dbt@h")
    assert next(p for p in chosen.programs if p.name == "flower").args[-1] == "5600"
    assert next(p for p in chosen.programs if p.name == "metrics").args[-1] == "9100"
    assert chosen.notes == ()


def test_the_embedded_store_gets_its_one_owning_worker_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0")
    chosen = plan(settings, hostname="h")
    assert [p.name for p in chosen.programs] == ["api", "worker", "beat"]
    worker = chosen.programs[1].args
    assert worker[worker.index("-Q") + 1] == ",".join(keys.QUEUES)
    assert worker[worker.index("-c") + 1] == str(sum(keys.QUEUES.values()))
    assert any("one owner process" in n for n in chosen.notes)
    assert any("TALLY_FLOWER_PASSWORD" in n for n in chosen.notes)


def test_without_redis_up_is_the_all_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = plan(settings_from(monkeypatch))
    assert [p.args for p in chosen.programs] == [("dev",)]
    assert "embedded" in chosen.notes[0]


def test_the_config_escapes_percent_and_restarts_what_crashes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_from(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0",
                             TALLY_DATA_DIR=str(tmp_path / "50%"))  # fmt: skip
    place = Place.of(settings)
    text = config_text(place, plan(settings).programs, stop_wait_s=40)
    assert f"file={tmp_path}/50%%/up/supervisor.sock" in text
    assert text.count("autorestart=true") == 3
    assert text.count("stopwaitsecs=40") == 3
    assert "-m tally.cli.main worker -Q" in text
    assert "REDIS_URL" not in text  # the environment, secrets included, is inherited


def test_a_plain_worker_takes_arq_max_jobs_else_its_queues_concurrency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(monkeypatch, WORKER_CONCURRENCY_ALERTS="6")
    assert worker_concurrency(settings, ["alerts"]) == 6
    assert worker_concurrency(settings, ["dbt"]) == 1
    assert worker_concurrency(settings, ["alerts", "dbt"]) == 4
    monkeypatch.setenv("ARQ_MAX_JOBS", "10")
    assert worker_concurrency(Settings(), ["alerts"]) == 10
    monkeypatch.setenv("WORKER_CONCURRENCY_DBT", "0")
    with pytest.raises(ValueError, match="WORKER_CONCURRENCY_DBT"):
        Settings()
