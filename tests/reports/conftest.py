"""Reports tests: metadata DBs, a chDB store with known events, SMTP and S3 servers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tally.events.accept import AcceptOptions, accept
from tally.infra.metadb.db import MetadataDB
from tally.jobs.base import Retention
from tally.jobs.memory import MemoryJobIndex
from tally.reports.service import ReportsService
from tally.reports.sources import Context, Limits
from tally.settings import AlertsSettings, ReportsSettings
from tally.store.chdb import ChdbStore
from tally.store.sql import Names
from tests.alerts.conftest import metadb, smtp, sqlite_db  # noqa: F401 - fixtures, reused
from tests.alerts.receiver import SmtpServer
from tests.conftest import free_port

NAMES = Names(database="analytics", table="user_events")
DAY0 = datetime(2026, 11, 24, tzinfo=UTC)  # the first day of the known events
WEIGHTS = {"video_view": 1.0, "like": 2.0}


def known_events() -> list[dict[str, Any]]:
    """Seven days: FR and DE, views and likes, a known count per (day, type)."""
    out = []
    for day in range(7):
        at = DAY0 + timedelta(days=day, hours=12)
        for i in range(10 + day):  # views grow by one a day
            country = "FR" if i % 2 else "DE"
            out.append({"event_type": "video_view", "entity_type": "video",
                        "entity_id": f"v{i % 3}", "country": country,
                        "user_id": f"u{i}", "created_at": at.isoformat()})  # fmt: skip
        for i in range(day):
            like = {"event_type": "like", "entity_type": "video", "entity_id": "v0"}
            out.append({**like, "country": "FR", "user_id": f"u{i}", "created_at": at.isoformat()})
    return out


def ndjson(events: list[dict[str, Any]]) -> bytes:
    """Events as the buffer hands them to the store."""
    options = AcceptOptions(max_batch_events=100_000, retention_days=10_000)
    accepted = accept(events, options)
    assert accepted.accepted == len(events), accepted.rejections[:3]
    return b"\n".join(accepted.lines)


@pytest.fixture
def chdb(tmp_path: Path) -> Iterator[ChdbStore]:
    """An embedded store holding the known events."""
    store = ChdbStore(tmp_path / "chdb", NAMES, 10_000)
    store.upgrade()
    store.insert_ndjson(ndjson(known_events()), dedup_window_s=0)
    yield store
    store.close()


def settings_in(tmp_path: Path, **extra: Any) -> ReportsSettings:
    """Reports settings with their directory under tmp_path."""
    values = {"TALLY_REPORTS_DIR": str(tmp_path / "reports"), "TALLY_REPORTS_BACKOFF_S": "0.1",
              **extra}  # fmt: skip
    return ReportsSettings.model_validate(values)


def service_on(db: MetadataDB, settings: ReportsSettings, **alerts: str) -> ReportsService:
    """A ReportsService over `db` (no job platform: the tests run the steps themselves)."""
    return ReportsService(db, settings, AlertsSettings.model_validate(alerts), jobs=None,  # type: ignore[arg-type]
                          public_url="http://tally.test")  # fmt: skip


def context_of(store: ChdbStore | None, index: MemoryJobIndex | None = None) -> Context:
    """What a worker gives report runs, over this store."""
    return Context(
        None if store is None else (lambda: store), NAMES, None,
        index or MemoryJobIndex(Retention(3600, 1000)), WEIGHTS, Limits(1_000_000, 60),
    )  # fmt: skip


@dataclass
class S3Server:
    """moto's S3-compatible server on a free loopback port (a process, stopped by PID)."""

    url: str
    proc: subprocess.Popen[bytes]
    region: str = "eu-west-1"  # bucket creation in us-east-1 fails on moto's server

    def options(self) -> dict[str, dict[str, Any]]:
        """fsspec options for s3:// against this server."""
        return {"s3": {"endpoint_url": self.url, "key": "testing", "secret": "testing",
                       "client_kwargs": {"region_name": self.region}}}  # fmt: skip

    def client(self) -> Any:
        """A boto3 client for this server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name=self.region)  # fmt: skip

    def bucket(self, name: str) -> str:
        """Create a bucket; its name."""
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region}
        )
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every object key of the bucket."""
        found = self.client().list_objects_v2(Bucket=bucket).get("Contents", [])
        return sorted(o["Key"] for o in found)


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    """A real S3-compatible server (moto[server]) for uploads."""
    port = free_port()
    log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115 - closed below
    moto = Path(sys.executable).with_name("moto_server")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto's S3 server did not start")
    yield S3Server(url, proc)
    proc.kill()
    proc.wait(10)
    log.close()


@pytest.fixture
def refusing_smtp() -> Iterator[SmtpServer]:
    """An SMTP server that answers 451 to the first three messages."""
    server = SmtpServer(refuse_first=3)
    yield server
    server.stop()
