"""The metadata database to a file and back: SQLite's online backup, pg_dump/pg_restore.

Errors of sqlite3 and of the PostgreSQL tools are translated here, once.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from tally.errors import ConfigError, StoreError

TOOL_TIMEOUT_S = 3600


def file_name(url: URL) -> str:
    """The dump's name in a backup folder."""
    return "metadata.sqlite" if url.get_backend_name() == "sqlite" else "metadata.dump"


def _libpq(url: URL) -> str:
    # pg_dump speaks libpq URLs: no SQLAlchemy driver suffix.
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} is not installed (PostgreSQL's client tools back up the "
                          "metadata DB): apt-get install postgresql-client")  # fmt: skip
    return found


def dump(url: URL, dest: Path) -> int:
    """Write the database to `dest` (consistent while it is in use); its size."""
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(str(url.database))
        target = sqlite3.connect(str(dest))
        try:
            source.backup(target)  # SQLite's online backup: a consistent copy, writers go on
        except sqlite3.Error as exc:
            raise StoreError(f"metadata backup failed: {exc}") from None
        finally:
            target.close()
            source.close()
    else:
        done = subprocess.run(
            [_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(dest), _libpq(url)],
            capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise StoreError(f"pg_dump failed: {_said(done.stderr, url)}")
    return dest.stat().st_size


def load(url: URL, source: Path) -> None:
    """Replace the database's contents with the dump's (one transaction on PostgreSQL)."""
    if url.get_backend_name() == "sqlite":
        if source.suffix != ".sqlite":
            raise StoreError("the backup holds a PostgreSQL dump; this metadata DB is SQLite")
        src = sqlite3.connect(str(source))
        dst = sqlite3.connect(str(url.database))
        try:
            src.backup(dst)
        except sqlite3.Error as exc:
            raise StoreError(f"metadata restore failed: {exc}") from None
        finally:
            dst.close()
            src.close()
        return
    if source.suffix != ".dump":
        raise StoreError("the backup holds a SQLite file; this metadata DB is PostgreSQL")
    done = subprocess.run(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
         "-d", _libpq(url), str(source)],
        capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise StoreError(f"pg_restore failed: {_said(done.stderr, url)}")


def _said(stderr: str, url: URL) -> str:
    """The tool's first line, without the URL (it holds the password)."""
    line = (stderr.strip().splitlines() or ["no output"])[0][:300]
    return line.replace(_libpq(url), "<DATABASE_URL>")
