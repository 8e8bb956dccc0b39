"""The metadata database: PostgreSQL (the machine's real server) or SQLite, and its health."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tally.infra.metadb.db import MetadataDB, database_url
from tests.conftest import IN_CI, Proc, api_client, clean_env, free_port, wait_http

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def test_postgresql_answers_through_psycopg_3() -> None:
    # Given DATABASE_URL with the bare postgresql scheme
    url = database_url(POSTGRES, Path("/unused"))
    assert url.drivername == "postgresql+psycopg"
    db = MetadataDB(url)
    ok, error = db.ping()
    if not ok and not IN_CI:
        pytest.skip(f"PostgreSQL is not answering on 127.0.0.1:5432 ({error})")
    # Then it answers (CI has PostgreSQL: a failure there is a failure)
    assert (ok, error) == (True, None)
    assert db.backend == "postgresql"
    db.close()


def test_unset_means_sqlite_in_the_data_dir_and_a_closed_port_is_down(tmp_path: Path) -> None:
    sqlite = MetadataDB(database_url(None, tmp_path))
    assert sqlite.ping() == (True, None)
    assert (tmp_path / "metadata.db").exists()
    closed = MetadataDB(database_url(f"postgresql://u@127.0.0.1:{free_port()}/x", tmp_path))
    ok, error = closed.ping()
    assert not ok
    assert error == "OperationalError"


def test_health_is_503_naming_the_metadata_database_when_it_is_down(
    tmp_path: Path, procs: Callable[..., Proc]
) -> None:
    # Given `tally dev` whose DATABASE_URL points at a closed port, with a password in it
    port, closed = free_port(), free_port()
    url = f"postgresql://tally:meta-pw-41ab@127.0.0.1:{closed}/meta"
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), DATABASE_URL=url)
    proc = procs("dev", "--port", str(port), env=env, name="dev")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/api/v1/health", timeout_s=60, proc=proc)
    with api_client(base) as client:
        health = client.get("/api/v1/health")
    # Then health is 503 and says why, without the password
    assert health.status_code == 503
    body = health.json()
    reason = body["metadata_db"].pop("reason")
    assert body["metadata_db"] == {
        "status": "down", "backend": "postgresql", "error": "OperationalError"
    }  # fmt: skip
    assert "refused" in reason  # why, in the driver's words: the port is closed
    assert "metadata database unreachable" in body["problems"]
    assert "meta-pw-41ab" not in health.text
