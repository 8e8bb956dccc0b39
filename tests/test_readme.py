"""The README's examples, run verbatim against real stacks (only host, port and token change).

Every ```bash block that talks to a running Tally (curl, `tally ...`) runs here: against a
`tally dev` (embedded), and the Redis-mode deployment block as written, with the other
blocks against it. The user task module the README shows is the one they enqueue.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import clean_env, free_port, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "readme-token-4d1f0b"
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
BASH = [body for lang, body in BLOCKS if lang == "bash"]
TASKS = next(body for lang, body in BLOCKS if lang == "python" and "myapp/tasks.py" in body)
DEPLOY = next(b for b in BASH if "tally worker" in b and "tally api" in b)
TALKS = [b for b in BASH if b is not DEPLOY and ("curl " in b or re.search(r"^tally ", b, re.M))]


def _substituted(block: str, port: int, redis_url: str | None = None) -> str:
    block = re.sub(r"(localhost|127\.0\.0\.1):8000", f"127.0.0.1:{port}", block)
    block = block.replace("--port 8000", f"--port {port}")
    block = block.replace("change-me-to-a-long-random-token", TOKEN)
    if redis_url is not None:
        block = block.replace("redis://127.0.0.1:6379/0", redis_url)
    return block


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder holding the README's task module, as a user's project would."""
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "tasks.py").write_text(TASKS)
    return tmp_path


def _env(workdir: Path, **extra: str) -> dict[str, str]:
    env = clean_env(
        TALLY_DATA_DIR=str(workdir / "data"),
        TALLY_TASK_MODULES="myapp.tasks",
        TALLY_API_TOKENS=TOKEN,
        TOKEN=TOKEN,
        PYTHONPATH=str(workdir),
        TALLY_ANALYTICS_ON_STARTUP="false",
        **extra,
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _run(block: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", block], env=env | {"COLUMNS": "200"}, cwd=cwd,
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def _background(block: str, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        ["bash", "-c", block], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole, by its id
    )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _check(done: subprocess.CompletedProcess[str], block: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{block}\n---\n{out}"
    assert "Traceback" not in out, out
    assert '"error"' not in done.stdout, f"{block}\n---\n{done.stdout}"


@pytest.fixture
def dev(workdir: Path) -> Iterator[int]:
    port = free_port()
    proc = _background(f"tally dev --port {port}", _env(workdir), workdir, workdir / "dev.log")
    try:
        wait_until(lambda: _answers(port), 60, "tally dev")
        yield port
    finally:
        _stop(proc)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code < 600
    except httpx.HTTPError:
        return False


def test_every_block_runs_verbatim_against_tally_dev(dev: int, workdir: Path) -> None:
    assert len(TALKS) >= 3, TALKS
    for block in TALKS:
        done = _run(_substituted(block, dev), _env(workdir), workdir)
        _check(done, block)
    # What the blocks did is there: the event, the README's job, the aborted one
    with httpx.Client(base_url=f"http://127.0.0.1:{dev}", timeout=30) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        daily = client.get("/api/v1/jobs/daily-2026-11-21", headers=auth).json()
        assert (daily["status"], daily["result"]) == ("succeeded", {"rows": 42})
        long = client.get("/api/v1/jobs/first-hour-long", headers=auth).json()
        wait_until(
            lambda: (
                client.get("/api/v1/jobs/first-hour-long", headers=auth).json()["status"]
                == "aborted"
            ),
            30,
            "the README's job to be aborted",
        )
        assert long["task"] == "tally.noop"


def test_the_redis_mode_block_deploys_and_the_others_run_against_it(
    redis_url: str, workdir: Path
) -> None:
    port = free_port()
    env = _env(workdir)
    deploy = _background(
        _substituted(DEPLOY, port, redis_url), env, workdir, workdir / "deploy.log"
    )
    try:
        wait_until(lambda: _answers(port), 60, "the Redis-mode API")
        base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200,
            90,
            "a healthy deployment:\n" + (workdir / "deploy.log").read_text()[-3000:],
        )
        client_env = env | {"REDIS_URL": redis_url}
        for block in TALKS:
            done = _run(_substituted(block, port, redis_url), client_env, workdir)
            _check(done, block)
    finally:
        _stop(deploy)
    assert "Traceback" not in (workdir / "deploy.log").read_text()
