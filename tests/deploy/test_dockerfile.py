"""deploy/Dockerfile, run as a script in a venv (no Docker daemon here): build, start, probe."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import clean_env, free_port, wait_http
from tests.deploy.commands import DEPLOY, ROOT, parse_tally

pytestmark = pytest.mark.slow

# What needs root on a Debian host, not a venv: said, not run.
ROOT_ONLY = ("apt-get ", "useradd ")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))  # fmt: skip
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages(steps: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for word, rest in steps:
        if word == "FROM":
            found.append([])
        found[-1].append((word, rest))
    return found


def env_pairs(rest: str, env: dict[str, str]) -> dict[str, str]:
    out = {}
    for pair in shlex.split(rest):
        name, _, value = pair.partition("=")
        out[name] = re.sub(r"\$(\w+)", lambda m: env.get(str(m.group(1)), ""), value)
    return out


class Image:
    """The image's file system under a test directory, built by running its instructions."""

    def __init__(self, root: Path, shim: Path) -> None:
        self.root = root
        self.env = {"PATH": f"{shim}:{os.environ['PATH']}", "HOME": str(root.parent)}
        self.workdir = root
        self.skipped: list[str] = []

    def here(self, text: str) -> str:
        """The image's absolute paths moved under the root."""
        return re.sub(r"(?<![\w.])/(opt|src|var)\b", lambda m: f"{self.root}/{m.group(1)}", text)

    def step(self, word: str, rest: str) -> None:
        if word == "ARG":
            name, _, default = rest.partition("=")
            self.env[name] = default
        elif word == "ENV":
            self.env |= env_pairs(self.here(rest), self.env)
        elif word == "WORKDIR":
            self.workdir = Path(self.here(rest))
            self.workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY" and rest.startswith("--from="):
            # From the build stage: its venv is already where the final stage wants it.
            assert Path(self.here(rest.split()[-1])).is_dir()
        elif word == "COPY":
            *sources, dest = rest.split()
            for source in sources:
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, self.workdir / dest, dirs_exist_ok=True)
                else:
                    shutil.copy(ROOT / source, self.workdir / dest)
        elif word == "RUN":
            self.run(rest)

    def run(self, rest: str) -> None:
        if rest.startswith(ROOT_ONLY):
            self.skipped.append(rest.split()[0])
            return
        env = self.env
        script = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], self.here(rest))
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.workdir,
                              env=env, capture_output=True, text=True, timeout=900,
                              check=False)  # fmt: skip
        assert done.returncode == 0, f"{script}\n{done.stderr[-3000:]}"


def probe(tally: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tally, *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip


def test_the_dockerfile_is_slim_non_root_with_tallys_entry_point_and_health_check() -> None:
    steps = instructions((DEPLOY / "Dockerfile").read_text())
    _, final = stages(steps)
    assert all(rest.split()[0].endswith("-slim") for word, rest in steps if word == "FROM")
    assert [rest for word, rest in final if word == "USER"] == ["tally"]
    assert json.loads(next(rest for word, rest in final if word == "ENTRYPOINT")) == ["tally"]
    assert parse_tally(json.loads(next(rest for word, rest in final if word == "CMD")))[0] == "api"
    health = next(rest for word, rest in final if word == "HEALTHCHECK")
    check = json.loads(health.split(" CMD ", 1)[1])
    assert check[0] == "tally"
    assert parse_tally(check[1:]) == ("ping", {"role": "api", "timeout": 5.0})


def test_the_dockerfiles_commands_build_a_tally_whose_command_and_health_check_work(
    tmp_path: Path, redis_url: str
) -> None:
    # Given the image's paths under this test's directory, and `python` meaning this Python
    build, final = stages(instructions((DEPLOY / "Dockerfile").read_text()))
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)
    image = Image(tmp_path / "image", shim)
    try:
        # When each stage's instructions run as a script (what needs root is only said)
        for word, rest in [*build, *final]:
            image.step(word, rest)
        assert image.skipped == ["apt-get", "useradd"]

        # Then the image's command serves the API (Redis mode, with a token), and its health
        # check says so; with the API stopped it says not. Loopback only in a test.
        command = json.loads(next(rest for word, rest in final if word == "CMD"))
        health = next(rest for word, rest in final if word == "HEALTHCHECK")
        check = json.loads(health.split(" CMD ", 1)[1])[1:]
        port = free_port()
        served = {"TALLY_API_HOST": "127.0.0.1", "TALLY_API_PORT": str(port)}
        env = clean_env(**(image.env | served), REDIS_URL=redis_url,
                        TALLY_API_TOKENS="t0ken-for-the-image")  # fmt: skip
        tally = shutil.which("tally", path=image.env["PATH"])
        assert tally is not None
        assert tally.startswith(str(image.root))
        api = subprocess.Popen([tally, *command], env=env, cwd=image.workdir,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{port}/api/v1/health", timeout_s=60)
            alive = probe(tally, check, env)
            assert alive.returncode == 0, alive.stderr
        finally:
            api.terminate()
            api.wait(30)
        dead = probe(tally, check, env)
        assert dead.returncode == 1
        assert "does not answer" in dead.stderr
    finally:
        shutil.rmtree(image.root, ignore_errors=True)  # a venv with chDB: over a gigabyte
