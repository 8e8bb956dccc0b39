"""The metadata database's schema, migrated by Alembic (the scripts live in `migrations/`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tally.infra.metadb.db import MetadataDB, metadb_errors

SCRIPTS = Path(__file__).parent / "migrations"


def _config(db: MetadataDB | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if db is not None:
        config.attributes["engine"] = db.engine
    return config


def head() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(db: MetadataDB) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with metadb_errors("metadata upgrade"), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: MetadataDB) -> list[str]:
    """Migrate to the newest revision; return the revisions applied (none when up to date)."""
    before = current(db)
    with metadb_errors("metadata upgrade"):
        command.upgrade(_config(db), "head")
    after = current(db)
    if before == after:
        return []
    scripts = ScriptDirectory.from_config(_config())
    applied = [f"metadata {r.revision} {r.doc}" for r in scripts.iterate_revisions(after, before)]
    return list(reversed(applied))
