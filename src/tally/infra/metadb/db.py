"""The metadata database through SQLAlchemy: one engine, one session factory, one translator."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from tally.errors import Conflict, StoreError, UnavailableError
from tally.infra.health import Checked

log = logging.getLogger("tally.meta")

CONNECT_TIMEOUT_S = 2
SERVICE = "metadata_db"


def database_url(configured: str | None, data_dir: Path) -> URL:
    """DATABASE_URL with psycopg 3 as PostgreSQL's driver; unset: SQLite in the data dir."""
    if not configured:
        return make_url(f"sqlite:///{data_dir / 'metadata.db'}")
    url = make_url(configured)
    if url.drivername in ("postgres", "postgresql"):
        # The bare scheme means psycopg2 to SQLAlchemy; Tally depends on psycopg 3.
        url = url.set(drivername="postgresql+psycopg")
    return url


def _reason(exc: sa_exc.DBAPIError) -> str:
    """The driver's first line, without the SQL or parameters SQLAlchemy appends."""
    original = str(exc.orig).strip().splitlines() if exc.orig is not None else []
    return original[0][:300] if original else type(exc).__name__


@contextlib.contextmanager
def metadb_errors(what: str = "metadata database") -> Iterator[None]:
    """Translate SQLAlchemy's errors raised in the block into Tally's (the one boundary)."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        raise _translated(exc, what) from None
    except sa_exc.SQLAlchemyError as exc:
        raise StoreError(f"{what}: {type(exc).__name__}: {exc}") from None


def _translated(exc: sa_exc.DBAPIError, what: str) -> Exception:
    reason = _reason(exc)
    text = str(exc.orig)
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        # A table the migrations create is missing (SQLite's and PostgreSQL's wording).
        return UnavailableError(SERVICE, f"{what}: {reason}; run `tally db upgrade`")
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return UnavailableError(SERVICE, f"{what}: {reason}")
    if isinstance(exc, sa_exc.IntegrityError):  # a unique key taken by a concurrent writer
        return Conflict(f"{what}: {reason}", "conflict")
    return StoreError(f"{what}: {reason}")


def is_id(ref: str | int) -> bool:
    """An id (ASCII digits, in an int's range) rather than a name: `²` and `10**30` are names."""
    text = str(ref)
    return isinstance(ref, int) or (text.isascii() and text.isdigit() and len(text) < 10)


class MetadataDB:
    """The metadata database; opened lazily, each check on a fresh pooled connection."""

    def __init__(self, url: URL) -> None:
        self.url = url
        args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql":
            args["connect_timeout"] = CONNECT_TIMEOUT_S  # fail fast when the server is down
        self.engine: Engine = sa.create_engine(url, pool_pre_ping=True, connect_args=args)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.last_error: str | None = None  # why the last ping failed, in the driver's words

    @property
    def backend(self) -> str:
        """postgresql, sqlite, …"""
        return str(self.url.get_backend_name())

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back on any error."""
        with metadb_errors(), self._sessions.begin() as session:
            yield session

    def ping(self) -> tuple[bool, str | None]:
        """(True, None) when `SELECT 1` answers; else (False, why)."""
        try:
            with self.session() as session:
                session.execute(sa.text("SELECT 1"))
        except UnavailableError as exc:
            log.warning("metadata database unreachable: %s", exc.message)
            self.last_error = exc.message
            return False, "OperationalError"
        except StoreError as exc:
            return False, str(exc)
        return True, None

    def close(self) -> None:
        self.engine.dispose()


class MetadataCheck:
    """Health: does the metadata database answer `SELECT 1`?"""

    name = "metadata_db"

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def check(self) -> Checked:
        ok, error = self._db.ping()
        detail: dict[str, Any] = {"status": "ok" if ok else "down", "backend": self._db.backend}
        if ok:
            return Checked(detail)
        reason = self._db.last_error or error
        return Checked(
            {**detail, "error": error, "reason": reason}, ("metadata database unreachable",)
        )
