"""A connection to the metadata database through SQLAlchemy; PostgreSQL or SQLite."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

log = logging.getLogger("tally.meta")

CONNECT_TIMEOUT_S = 2


def database_url(configured: str | None, data_dir: Path) -> URL:
    """DATABASE_URL with psycopg 3 as PostgreSQL's driver; unset: SQLite in the data dir."""
    if not configured:
        return make_url(f"sqlite:///{data_dir / 'metadata.db'}")
    url = make_url(configured)
    if url.drivername in ("postgres", "postgresql"):
        # The bare scheme means psycopg2 to SQLAlchemy; Tally depends on psycopg 3.
        url = url.set(drivername="postgresql+psycopg")
    return url


class MetadataDB:
    """The metadata database; opened lazily, each check on a fresh pooled connection."""

    def __init__(self, url: URL) -> None:
        self.url = url
        args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql":
            args["connect_timeout"] = CONNECT_TIMEOUT_S  # fail fast when the server is down
        self._engine: Engine = sa.create_engine(url, pool_pre_ping=True, connect_args=args)

    @property
    def backend(self) -> str:
        """postgresql, sqlite, …"""
        return str(self.url.get_backend_name())

    def ping(self) -> tuple[bool, str | None]:
        """(True, None) when `SELECT 1` answers; else (False, the error's class name)."""
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:  # any driver error: the database is not usable
            log.warning("metadata database unreachable: %s", type(exc).__name__)
            return False, type(exc).__name__
        return True, None

    def close(self) -> None:
        self._engine.dispose()
