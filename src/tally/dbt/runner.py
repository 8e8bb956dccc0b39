"""Run one dbt command in this process and read what it did (run_results / sources.json).

dbt runs in-process (`dbtRunner`), in the worker that owns the store: with chDB, no other
process can open the directory. Its errors are translated here, once.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tally.errors import JobFailed, ValidationFailed

COMMANDS: dict[str, list[str]] = {
    "run": ["run"], "test": ["test"], "build": ["build"],
    "docs_generate": ["docs", "generate"], "source_freshness": ["source", "freshness"],
}  # fmt: skip
FAILED = {"error", "fail", "runtime error"}
Progress = Callable[[float, str], None]
_ONE_AT_A_TIME = threading.Lock()  # dbt keeps global state: one invocation per process


class DbtFailed(JobFailed):
    """Raised when dbt ran and some nodes failed (the job fails, naming them)."""


@dataclass(frozen=True, slots=True)
class Node:
    """What dbt did with one node."""

    node_id: str
    resource_type: str
    status: str
    started_at: float | None
    completed_at: float | None
    execution_time_s: float | None
    rows_affected: int | None
    message: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One invocation: its id, its nodes, and the ones that failed."""

    invocation_id: str
    command: str
    nodes: list[Node] = field(default_factory=list)

    @property
    def failed(self) -> list[Node]:
        """Nodes that failed (a warning is not a failure)."""
        return [n for n in self.nodes if n.status in FAILED]

    def summary(self) -> dict[str, Any]:
        """The job's result."""
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.status] = counts.get(n.status, 0) + 1
        return {"invocation_id": self.invocation_id, "command": self.command,
                "nodes": len(self.nodes), "statuses": counts,
                "failed": [n.node_id for n in self.failed]}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Selection:
    """Which nodes, and how: dbt's own flags."""

    select: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    _: KW_ONLY
    full_refresh: bool = False
    vars: dict[str, Any] = field(default_factory=dict)

    def args(self, command: str) -> list[str]:
        """The flags for `command`."""
        out: list[str] = []
        if self.select:
            out += ["--select", *self.select]
        if self.exclude:
            out += ["--exclude", *self.exclude]
        if self.full_refresh and command in ("run", "build"):
            out.append("--full-refresh")
        if self.vars:
            out += ["--vars", json.dumps(self.vars)]
        return out


def check_project(project: Path) -> None:
    """ValidationFailed unless `project` holds a dbt project."""
    if not (project / "dbt_project.yml").is_file():
        raise ValidationFailed("DBT_PROJECT_PATH", "missing",
                               f"no dbt project at {project} (dbt_project.yml): "
                               "`tally dbt init` writes a starter one")  # fmt: skip


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _node(raw: dict[str, Any], resource_type: str | None = None) -> Node:
    timing = {t["name"]: t for t in raw.get("timing") or []}
    execute: dict[str, Any] = timing.get("execute") or next(iter(timing.values()), {})
    response = raw.get("adapter_response") or {}
    unique_id = str(raw["unique_id"])
    message = raw.get("message")
    if raw.get("max_loaded_at") is not None:  # a freshness result
        message = (f"max_loaded_at {raw['max_loaded_at']}, "
                   f"{raw.get('max_loaded_at_time_ago_in_s', 0):.0f} s ago")  # fmt: skip
    rows = response.get("rows_affected")
    return Node(
        node_id=unique_id, resource_type=resource_type or unique_id.split(".")[0],
        status=str(raw.get("status") or "unknown").lower(),
        started_at=_seconds(execute.get("started_at")),
        completed_at=_seconds(execute.get("completed_at")),
        execution_time_s=raw.get("execution_time"),
        rows_affected=None if rows is None else int(rows),
        message=None if message is None else str(message)[:2000],
    )  # fmt: skip


def read_results(project: Path, command: str) -> Outcome:
    """The invocation dbt just wrote under `target/`."""
    name = "sources.json" if command == "source_freshness" else "run_results.json"
    path = project / "target" / name
    if command == "docs_generate" or not path.is_file():
        return Outcome(invocation_id="", command=command)
    doc = json.loads(path.read_text())
    invocation = str(doc.get("metadata", {}).get("invocation_id", ""))
    kind = "source" if command == "source_freshness" else None
    return Outcome(invocation, command, [_node(r, kind) for r in doc.get("results", [])])


def invoke(command: str, project: Path, profiles_dir: Path, *, target: str | None,
           threads: int, selection: Selection, progress: Progress) -> Outcome:  # fmt: skip
    """Run `dbt <command>` on the project; its outcome (DbtFailed is the caller's to raise)."""
    check_project(project)
    try:
        from dbt.cli.main import dbtRunner
    except ImportError:
        raise JobFailed("dbt is not installed here: pip install 'tally[dbt]'") from None
    from tally.dbt.adapter import install

    install()  # `type: chdb`, the embedded store's adapter

    args = [*COMMANDS[command], "--project-dir", str(project), "--profiles-dir",
            str(profiles_dir), "--threads", str(threads), *selection.args(command)]  # fmt: skip
    if target:
        args += ["--target", target]
    total = [0]
    done = [0]

    def on_event(event: Any) -> None:
        name = event.info.name
        if name == "LogStartLine":
            total[0] = max(total[0], int(getattr(event.data, "total", 0) or 0))
        elif name == "NodeFinished":
            done[0] += 1
            node = getattr(event.data, "node_info", None)
            what = getattr(node, "unique_id", "a node")
            pct = 5 + 90 * done[0] / max(total[0], done[0], 1)
            progress(min(95.0, pct), f"{done[0]}/{total[0] or '?'} {what}")

    # dbt phones home and checks for new versions unless told not to: nothing leaves here.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DBT_VERSION_CHECK", "false")
    progress(2, f"dbt {' '.join(COMMANDS[command])}")
    with _ONE_AT_A_TIME:
        result = dbtRunner(callbacks=[on_event]).invoke(args)
    if result.exception is not None:
        raise DbtFailed(f"dbt {' '.join(COMMANDS[command])}: {_first(result.exception)}")
    outcome = read_results(project, command)
    if selection.select and not outcome.nodes and command != "docs_generate":
        message = f"no node matches --select {' '.join(selection.select)}"
        raise ValidationFailed("select", "matches_nothing", message)
    return outcome


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:3])[:500] or type(exc).__name__
