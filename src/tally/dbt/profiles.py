"""The dbt profile: generated for Tally's own store, or the user's (checked, not trusted).

A generated profile points dbt at the store this worker owns: the `chdb` adapter on the
store's directory (the exact path the store opened), or dbt-clickhouse on the server.
A password never goes into the file: the profile reads it from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tally.errors import ValidationFailed
from tally.settings import DbtSettings, StoreSettings

PROFILE = "tally"
TARGET = "tally"
PASSWORD_ENV = "TALLY_DBT_CLICKHOUSE_PASSWORD"  # noqa: S105 - a variable's name


def generated(dbt: DbtSettings, store: StoreSettings, *, chdb_path: Path | None,
              chdb_config: Path | None) -> dict[str, Any]:  # fmt: skip
    """The profile of Tally's own store (`chdb_path` set: the embedded store)."""
    output: dict[str, Any] = {"schema": dbt.schema_name, "threads": dbt.threads}
    if chdb_path is not None:
        output |= {"type": "chdb", "path": str(chdb_path), "config_file": str(chdb_config)}
    else:
        url = urlsplit(store.server_url() or "")
        output |= {
            "type": "clickhouse", "driver": "http", "host": url.hostname or "localhost",
            "port": url.port or (8443 if url.scheme == "https" else 8123),
            "secure": url.scheme == "https",
            "user": store.clickhouse_user or url.username or "default",
            "password": "{{ env_var('" + PASSWORD_ENV + "', '') }}",
        }  # fmt: skip
    return {PROFILE: {"target": TARGET, "outputs": {TARGET: output}}}


def write_generated(folder: Path, profile: dict[str, Any], store: StoreSettings) -> Path:
    """profiles.yml in `folder` (readable by this user only); the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    import yaml  # dbt's own dependency: present wherever dbt is

    path.write_text("# Written by Tally for its own store; set DBT_PROFILES_DIR to use yours.\n"
                    + yaml.safe_dump(profile, sort_keys=False))  # fmt: skip
    path.chmod(0o600)
    password = store.clickhouse_password.get_secret_value()
    if not password and store.clickhouse_url is not None:
        password = urlsplit(store.clickhouse_url.get_secret_value()).password or ""
    os.environ[PASSWORD_ENV] = password  # read by the profile; never written to a file
    return folder


def project_profile(project: Path) -> str:
    """The profile name the project asks for."""
    import yaml

    doc = yaml.safe_load((project / "dbt_project.yml").read_text()) or {}
    return str(doc.get("profile") or PROFILE)


def check_user_profile(folder: Path, project: Path, target: str | None,
                       chdb_path: Path | None) -> None:  # fmt: skip
    """ValidationFailed when the user's profile cannot be used by this worker."""
    path = folder / "profiles.yml"
    if not path.is_file():
        raise ValidationFailed("DBT_PROFILES_DIR", "missing", f"no profiles.yml in {folder}")
    import yaml

    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValidationFailed("DBT_PROFILES_DIR", "invalid", f"{path}: {exc}") from None
    name = project_profile(project)
    profile = doc.get(name)
    if not isinstance(profile, dict):
        raise ValidationFailed("DBT_PROFILES_DIR", "missing",
                               f"{path} has no profile {name!r} (the project's)")  # fmt: skip
    chosen = target or profile.get("target")
    output = (profile.get("outputs") or {}).get(chosen)
    if not isinstance(output, dict):
        raise ValidationFailed(
            "DBT_TARGET", "missing", f"profile {name!r} has no target {chosen!r}"
        )
    if output.get("type") == "chdb":
        given = Path(str(output.get("path", "")))
        if chdb_path is None or str(given) != str(chdb_path):
            where = "no embedded store here" if chdb_path is None else f"the store is {chdb_path}"
            raise ValidationFailed("DBT_PROFILES_DIR", "points_elsewhere",
                                   f"the chdb target's path {given} is not the store's ({where}):"
                                   " chDB opens one directory per process")  # fmt: skip
