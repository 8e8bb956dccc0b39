"""The engine knows no capability: importing `tally.queue` loads none of them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CAPABILITIES = ("analytics", "store", "ingest", "maintenance", "buffer", "cache", "events")


def _modules_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize(
    "statement",
    [
        "import tally.queue.app, tally.queue.engine, tally.queue.client, tally.queue.inspect",
        "import tally.queue.worker.runner, tally.queue.worker.signals, tally.queue.beat",
    ],
)
def test_the_job_engine_imports_no_capability(statement: str) -> None:
    loaded = _modules_after(statement)
    assert "celery" in loaded  # the engine did load
    leaked = [m for m in loaded if m.split(".")[:2] in (["tally", c] for c in CAPABILITIES)]
    assert leaked == []


def test_the_job_api_imports_no_celery() -> None:
    loaded = _modules_after("import tally.jobs")
    assert not [m for m in loaded if m == "celery" or m.startswith(("celery.", "kombu"))]
    assert "tally.queue" not in loaded
