"""deploy/: the compose file, the Procfile and the systemd units, checked as far as we can."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tally import keys
from tally.cli.processes import worker_concurrency
from tally.settings import Settings
from tests.deploy.commands import (
    DEPLOY,
    OTHER_NAMES,
    filled,
    parse_tally,
    references,
    settings_names,
)

SEED_001 = {"analytics": 2, "dbt": 1, "alerts": 4, "reports": 2, "monitoring": 1}
SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def tally_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if "build" in s}


def test_compose_has_every_role_each_running_a_real_tally_command(compose: dict[str, Any]) -> None:
    services = compose["services"]
    workers = {f"worker-{q}" for q in keys.QUEUES}
    assert set(services) == {"redis", "clickhouse", "postgres", "migrate", "api", "beat",
                             "flower", *workers}  # fmt: skip
    ran = {name: parse_tally(s["command"]) for name, s in tally_services(compose).items()}
    assert ran["api"][0] == "api"
    assert ran["migrate"][0] == "db upgrade"
    assert ran["beat"][0] == "beat"
    assert ran["flower"][0] == "flower"
    for queue in keys.QUEUES:
        command, options = ran[f"worker-{queue}"]
        assert (command, options["queues"]) == ("worker", queue)
    # Workers say they are alive through Tally's own probe
    for name in workers:
        probe = services[name]["healthcheck"]["test"]
        assert probe[0] == "CMD"
        assert parse_tally(probe[2:])[0] == "ping"
    assert parse_tally(services["flower"]["healthcheck"]["test"][2:])[1]["role"] == "flower"


def test_compose_redis_is_durable_and_never_evicts(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "--requirepass ${REDIS_PASSWORD:?" in command


def test_compose_variables_are_ones_tally_reads_and_no_secret_has_a_default(
    compose: dict[str, Any],
) -> None:
    known = settings_names() | OTHER_NAMES
    for name, service in tally_services(compose).items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets variables Tally does not read: {unknown}"
    env = tally_services(compose)["api"]["environment"]
    assert {"REDIS_URL", "CLICKHOUSE_HOST", "CLICKHOUSE_PASSWORD", "DATABASE_URL",
            "TALLY_API_TOKENS", "TALLY_FLOWER_PASSWORD"} <= set(env)  # fmt: skip
    text = (DEPLOY / "docker-compose.yml").read_text()
    for ref, op in references(text):
        if any(w in ref for w in SECRET_WORDS):
            assert op == ":?" or f"${{{ref}:-}}" in text, f"{ref} has a default"
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(w in key for w in SECRET_WORDS):
                assert "${" in str(value), f"{key} is written in the file"
    # Every required variable is in the example env file, with no value
    example = dict(
        line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )  # fmt: skip
    required = {ref for ref, op in references(text) if op == ":?"}
    assert required <= set(example)
    assert all(example[r] == "" for r in required)


def test_compose_workers_run_at_seed_001s_concurrencies(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the environment the compose file gives its Tally containers (secrets filled in)
    for name, value in tally_services(compose)["api"]["environment"].items():
        monkeypatch.setenv(name, filled(str(value)))
    settings = Settings()
    # When each worker works out its concurrency as `tally worker -Q <queue>` does
    got = {q: worker_concurrency(settings, [q]) for q in keys.QUEUES}
    # Then it is seed 001's
    assert {q: got[q] for q in SEED_001} == SEED_001
    assert got == keys.QUEUES
    assert settings.redis.url_in_force() == "redis://:x-REDIS_PASSWORD@redis:6379/0"
    assert settings.store.kind == "clickhouse"


def test_the_procfile_runs_every_role_with_real_commands() -> None:
    lines = [line for line in (DEPLOY / "Procfile").read_text().splitlines()
             if line and not line.startswith("#")]  # fmt: skip
    processes = dict(line.split(": ", 1) for line in lines)
    assert set(processes) == {"api", "beat", "flower", *(f"worker-{q}" for q in keys.QUEUES)}
    for name, command in processes.items():
        argv = shlex.split(command)
        assert argv[0] == "tally"
        ran, options = parse_tally(argv[1:])
        if name.startswith("worker-"):
            assert (ran, options["queues"]) == ("worker", name.removeprefix("worker-"))
        else:
            assert ran == name


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs Debian's systemd")
        pytest.skip("systemd-analyze is not installed here")
    # Given the units, pointed at this venv's `tally` instead of /opt/tally's
    here = str(Path(sys.executable).parent / "tally")
    for unit in (DEPLOY / "systemd").iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/tally/bin/tally", here))
    units = [tmp_path / n for n in ("tally-api.service", "tally-beat.service",
                                    "tally-flower.service", "tally.target")]  # fmt: skip
    units += [tmp_path / f"tally-worker@{q}.service" for q in keys.QUEUES]
    # When verified, then systemd has nothing to say
    done = subprocess.run([analyze, "verify", *map(str, units)], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    # And each ExecStart is a real tally command; the env file names only Tally's variables
    for unit in (DEPLOY / "systemd").glob("*.service"):
        for line in unit.read_text().splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=")):
                argv = shlex.split(line.split("=", 1)[1].replace("%i", "alerts").replace("%H", "h"))
                assert argv[0] == "/opt/tally/bin/tally"
                parse_tally(argv[1:])
    env = (DEPLOY / "systemd" / "tally.env.example").read_text().splitlines()
    names = {line.split("=", 1)[0] for line in env if line and not line.startswith("#")}
    assert names <= settings_names()


def test_a_mistyped_command_is_caught_by_the_checks() -> None:
    with pytest.raises(Exception, match="No such option"):
        parse_tally(["worker", "--queue-name", "alerts"])
