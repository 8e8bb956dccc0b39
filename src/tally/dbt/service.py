"""dbt as jobs and pages see it: invoke a command, record its nodes, list runs, find docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tally.dbt import log, profiles, starter
from tally.dbt.runner import DbtFailed, Outcome, Progress, Selection, check_project, invoke
from tally.infra.metadb.db import MetadataDB
from tally.settings import DbtSettings, StoreSettings
from tally.store.base import Store


class DbtService:
    """The project, its profile and the refresh log; commands run in the store's owner."""

    def __init__(self, db: MetadataDB, settings: DbtSettings, store: StoreSettings) -> None:
        self.db = db
        self.settings = settings
        self.store_settings = store

    @property
    def project(self) -> Path:
        """The dbt project's folder."""
        return self.settings.project

    def profiles_dir(self, store: Store) -> Path:
        """The user's profiles (checked), or one generated for this store."""
        path = getattr(store, "path", None) if store.backend == "chdb" else None
        if self.settings.profiles_dir is not None:
            profiles.check_user_profile(self.settings.profiles_dir, self.project,
                                        self.settings.target, path)  # fmt: skip
            return self.settings.profiles_dir
        config = None if path is None else path / "tally-chdb.xml"
        profile = profiles.generated(self.settings, self.store_settings, chdb_path=path,
                                     chdb_config=config)  # fmt: skip
        folder = self.settings.data_dir / "dbt-profiles"
        return profiles.write_generated(folder, profile, self.store_settings)

    def run(self, command: str, store: Store, selection: Selection, progress: Progress,
            job_id: str | None = None) -> Outcome:  # fmt: skip
        """Invoke dbt, record every node, and fail (naming them) when nodes failed."""
        check_project(self.project)
        target = self.settings.target if self.settings.profiles_dir is not None else None
        outcome = invoke(
            command, self.project, self.profiles_dir(store), target=target,
            threads=self.settings.threads, selection=selection, progress=progress,
        )  # fmt: skip
        with self.db.session() as session:
            log.record(session.connection(), outcome, job_id)
        failed = outcome.failed
        if failed:
            names = ", ".join(f"{n.node_id} ({n.status})" for n in failed[:20])
            more = f" and {len(failed) - 20} more" if len(failed) > 20 else ""
            raise DbtFailed(f"dbt {command}: {len(failed)} failed: {names}{more}")
        return outcome

    def init(self, path: Path | None = None, *, force: bool = False) -> list[Path]:
        """Write the starter project (default: DBT_PROJECT_PATH)."""
        return starter.write(path or self.project, database=self.store_settings.database,
                             table=self.store_settings.table_name, force=force)  # fmt: skip

    def invocations(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest invocations with their counts per status."""
        with self.db.session() as session:
            return log.invocations(session.connection(), limit)

    def nodes(self, invocation_id: str) -> list[dict[str, Any]]:
        """One invocation's nodes."""
        with self.db.session() as session:
            return log.nodes(session.connection(), invocation_id)

    def docs_file(self, name: str) -> Path | None:
        """A file of the generated docs (index.html, manifest.json, catalog.json), if any."""
        if name not in ("index.html", "manifest.json", "catalog.json"):
            return None
        path = self.project / "target" / name
        return path if path.is_file() else None
