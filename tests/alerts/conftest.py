"""Alerts tests: the metadata DB on SQLite and PostgreSQL, stores, receivers and an SMTP server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.alerts.service import AlertsService
from tally.infra.metadb.db import MetadataDB, database_url
from tally.infra.metadb.migrate import upgrade
from tally.settings import AlertsSettings
from tally.store.base import Store
from tests.alerts.receiver import Receiver, SmtpServer
from tests.store.conftest import open_store, store  # noqa: F401 - the store fixtures, reused

T0 = 1_800_000_000.0  # a fixed "now" for stores written by hand (2027-01-15 08:00 UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def metadb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataDB]:
    """An upgraded metadata database of each backend."""
    configured = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    db = MetadataDB(database_url(configured, tmp_path))
    upgrade(db)
    yield db
    db.close()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[MetadataDB]:
    """An upgraded SQLite metadata database (for tests about something else than the DB)."""
    db = MetadataDB(database_url(None, tmp_path))
    upgrade(db)
    yield db
    db.close()


def service_on(db: MetadataDB, **settings: str) -> AlertsService:
    """An AlertsService over `db` (no job platform: nothing here enqueues)."""
    alerts = AlertsSettings.model_validate({"TALLY_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", **settings})
    return AlertsService(db, alerts, jobs=None, breakers=None, dashboard_url="http://tally.test")  # type: ignore[arg-type]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP server that records every request."""
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, with login."""
    server = SmtpServer(user="alerts", password="smtp-pw-7731")
    yield server
    server.stop()


def put_events(target: Store, rows: list[tuple[float, str, str, str, str]]) -> None:
    """Insert (created_at, event_type, country, category, user_id) events for entity video:1."""
    values = ", ".join(
        f"('{uuid.uuid4()}', '{et}', 'video', '1', '{user}', '{country}', '{category}', "
        f"fromUnixTimestamp64Milli({round(at * 1000)}, 'UTC'))"
        for at, et, country, category, user in rows
    )
    target.command(
        f"INSERT INTO {target.names.events} (event_id, event_type, entity_type, entity_id, "
        f"user_id, country, category, created_at) VALUES {values}"
    )
