"""The CLI against a running Tally's API: beside `tally dev` (which owns the store) or remote.

The same services a local runtime offers (jobs, analytics, store, inspector, health), each
call one HTTP request; API errors come back as Tally's errors, so commands print one line.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx
import orjson

from tally.errors import (
    Conflict,
    JobError,
    JobTimeout,
    NotFound,
    TallyError,
    UnavailableError,
    ValidationFailed,
)
from tally.jobs.record import FINAL, JobRecord, Status
from tally.settings import Mode, Settings

# Written by `tally dev` (and an embedded `tally api`) into its data directory, so the CLI
# finds the process that owns the store instead of failing to open it.
SERVER_FILE = "api-server.json"


def announce_server(settings: Settings, url: str) -> Path:
    """Record where this process serves the API (removed by `forget_server`)."""
    path = settings.data_dir / SERVER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"url": url, "pid": os.getpid()}))
    return path


def forget_server(settings: Settings) -> None:
    """Remove the record of this process's API."""
    path = settings.data_dir / SERVER_FILE
    try:
        if orjson.loads(path.read_bytes()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, orjson.JSONDecodeError):
        pass


def local_server(settings: Settings) -> str | None:
    """The URL of a live `tally dev` owning this data directory, if there is one."""
    try:
        found = orjson.loads((settings.data_dir / SERVER_FILE).read_bytes())
        os.kill(int(found["pid"]), 0)  # raises if that process is gone
    except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    return str(found["url"])


def _ts(text: Any) -> float | None:
    return None if text is None else datetime.fromisoformat(str(text)).timestamp()


def record_of(data: dict[str, Any]) -> JobRecord:
    """A job as the API shows it, back as a record."""
    values = {k: v for k, v in data.items() if k in JobRecord.__dataclass_fields__}
    for name in ("created_at", "started_at", "finished_at", "eta"):
        values[name] = _ts(values.get(name))
    values["created_at"] = values["created_at"] or 0.0
    values["status"] = Status(values["status"])
    return JobRecord(**values)


class Api:
    """HTTP calls to Tally's API, with its errors translated back into Tally's."""

    def __init__(self, url: str, token: str | None, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UnavailableError("api", f"{self.url}: {type(exc).__name__}") from None
        if r.status_code < 400:
            return r.json() if r.content else None
        return self._raise(r)

    def _raise(self, r: httpx.Response) -> NoReturn:
        try:
            error = r.json().get("error", {})
        except ValueError:
            error = {}
        message = str(error.get("message") or r.text[:200])
        if r.status_code == 404:
            raise NotFound(message)
        if r.status_code == 409:
            raise Conflict(message, error.get("status"))
        if r.status_code == 422:
            raise ValidationFailed(error.get("field") or "request", error.get("reason"), message)
        if r.status_code == 401:
            raise TallyError(f"{message} (set TALLY_API_TOKENS or TALLY_TOKEN to a token)")
        if r.status_code == 503:
            raise UnavailableError(error.get("service") or "api", message)
        if r.status_code == 504:
            raise JobTimeout(message)
        raise JobError(f"{r.status_code}: {message}")

    def save(self, path: str, dest: Path) -> int:
        """Stream a file answer to `dest` (a temporary name, renamed when complete)."""
        temp = dest.with_name(f".{dest.name}.part")
        written = 0
        try:
            with self._client.stream("GET", path) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise(r)
                with open(temp, "wb") as out:
                    for chunk in r.iter_bytes():
                        out.write(chunk)
                        written += len(chunk)
            temp.replace(dest)
        except httpx.HTTPError as exc:
            raise UnavailableError("api", f"{self.url}: {type(exc).__name__}") from None
        finally:
            temp.unlink(missing_ok=True)
        return written

    def close(self) -> None:
        self._client.close()


@dataclass
class RemoteJobs:
    api: Api

    def enqueue(
        self, task: str, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> tuple[JobRecord, bool]:  # fmt: skip
        body = {"task": task, "args": args or [], "kwargs": kwargs or {}}
        body |= {k: v for k, v in options.items() if v is not None}
        out = self.api.call("POST", "/api/v1/jobs", json=body)
        return self.get(out["job_id"]), bool(out.get("created", True))

    def get(self, job_id: str) -> JobRecord:
        return record_of(self.api.call("GET", f"/api/v1/jobs/{job_id}"))

    def wait(self, job_id: str, timeout_s: float) -> JobRecord:
        deadline = time.monotonic() + timeout_s
        while True:
            record = self.get(job_id)
            if record.status in FINAL:
                return record
            if time.monotonic() >= deadline:
                raise JobTimeout(f"job {job_id} is still {record.status} after {timeout_s:g} s")
            time.sleep(0.1)

    def abort(self, job_id: str) -> str:
        return str(self.api.call("DELETE", f"/api/v1/jobs/{job_id}")["status"])

    def recent(self, status: Status | None, task: str | None, limit: int) -> list[JobRecord]:
        params = {k: v for k, v in {"status": status, "task": task, "limit": limit}.items() if v}
        rows = self.api.call("GET", "/api/v1/jobs", params=params)["jobs"]
        return [record_of(r) for r in rows]


@dataclass
class RemoteAnalytics:
    api: Api

    def run(
        self, as_of: str | None, *, wait: bool, timeout_s: float, publish: bool = False
    ) -> dict[str, Any]:
        body = {"as_of": as_of, "wait": wait, "timeout_s": timeout_s, "publish": publish}
        out: dict[str, Any] = self.api.call("POST", "/api/v1/analytics/run", json=body)
        return out

    def results(
        self, metric: str, by: str, group: str | None, limit: int | None, *, as_of: Any = None
    ) -> dict[str, Any]:
        params = {k: v for k, v in {"by": by, "group": group, "limit": limit,
                                    "as_of": as_of}.items() if v is not None}  # fmt: skip
        out: dict[str, Any] = self.api.call("GET", f"/api/v1/analytics/{metric}", params=params)
        return out

    def metadata(self, *, as_of: Any = None) -> dict[str, Any]:
        params = {"as_of": as_of} if as_of else {}
        out: dict[str, Any] = self.api.call("GET", "/api/v1/analytics/metadata", params=params)
        return out


@dataclass
class RemoteStore:
    api: Api

    def flush(self, *, wait: bool, timeout_s: float) -> dict[str, Any]:
        params = {"wait": wait, "timeout_s": timeout_s}
        out: dict[str, Any] = self.api.call(
            "POST", "/api/v1/events/flush", params=params, timeout=timeout_s + 10
        )
        return out

    def stats(self, timeout_s: float) -> dict[str, Any]:
        out: dict[str, Any] = self.api.call(
            "GET", "/api/v1/store/stats", params={"timeout_s": timeout_s}, timeout=timeout_s + 10
        )
        return out

    def upgrade(self, timeout_s: float) -> list[str]:
        # The running owner upgraded its store when it started.
        return []


@dataclass
class RemoteInspector:
    api: Api

    def queues(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.api.call("GET", "/api/v1/queues")["queues"]
        return rows

    def workers(self) -> list[dict[str, Any]]:
        body = self.api.call("GET", "/api/v1/health")
        workers: list[dict[str, Any]] = body.get("workers") or []
        return workers

    def tasks(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.api.call("GET", "/api/v1/tasks")["tasks"]
        return rows

    def schedule(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.api.call("GET", "/api/v1/schedule")["schedule"]
        return rows


@dataclass
class RemoteDbt:
    """`tally dbt runs|nodes` through the API."""

    api: Api

    def invocations(self, limit: int = 50) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.api.call(
            "GET", "/api/v1/dbt/runs", params={"limit": limit}
        )
        return out

    def nodes(self, invocation_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.api.call("GET", f"/api/v1/dbt/runs/{invocation_id}")
        return out


@dataclass
class RemoteMaintenance:
    """`tally backup …` and `tally catalog` through the API."""

    api: Api

    def catalog(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.api.call("GET", "/api/v1/catalog")
        return out

    def backups(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.api.call("GET", "/api/v1/backups")
        return out

    def start_backup(self, kind: str) -> str:
        return str(self.api.call("POST", "/api/v1/backups", json={"kind": kind})["job_id"])

    def start_restore(self, backup_id: str, *, force: bool) -> str:
        path = f"/api/v1/backups/{backup_id}/restore"
        return str(self.api.call("POST", path, json={"force": force})["job_id"])


@dataclass
class RemoteRuntime:
    """What a command needs, served by a running Tally's API."""

    settings: Settings
    url: str
    token: str | None
    api: Api = field(init=False)

    def __post_init__(self) -> None:
        self.api = Api(self.url, self.token)
        self.jobs = RemoteJobs(self.api)
        self.analytics = RemoteAnalytics(self.api)
        self.store = RemoteStore(self.api)
        self.inspector = RemoteInspector(self.api)
        from tally.cli.remote_alerts import RemoteAlerts  # it builds on Api, defined here

        self.alerts = RemoteAlerts(self.api)
        from tally.cli.remote_reports import RemoteReports

        self.reports = RemoteReports(self.api)
        self.dbt = RemoteDbt(self.api)
        self.maintenance = RemoteMaintenance(self.api)

    @property
    def mode(self) -> Mode:
        return Mode.REDIS  # not this process's engine: nothing to start or stop here

    def health(self) -> tuple[bool, dict[str, Any]]:
        try:
            r = self.api._client.get("/api/v1/health")
        except httpx.HTTPError as exc:
            raise UnavailableError("api", f"{self.url}: {type(exc).__name__}") from None
        body: dict[str, Any] = r.json()
        return r.status_code == 200, body

    def upgrade_metadata(self) -> list[str]:
        return []  # the running process upgraded it when it started

    def stop(self) -> None:
        self.api.close()
