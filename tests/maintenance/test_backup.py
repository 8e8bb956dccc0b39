"""Backups of the embedded store and the metadata DB; restores that change all or nothing."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from tally.errors import Conflict, StoreError, ValidationFailed
from tally.infra.metadb.db import MetadataDB
from tally.maintenance import backup
from tally.maintenance.places import LocalPlace
from tally.store.chdb import ChdbStore
from tests.reports.conftest import NAMES, S3Server, known_events, ndjson


def quiet(_pct: float, _msg: str) -> None:
    return None


def count(store: ChdbStore) -> int:
    return int(store.query(f"SELECT count() AS n FROM {NAMES.events}")[0]["n"])


def test_full_then_incremental_then_restore_brings_back_each_point(
    metadb: MetadataDB, chdb: ChdbStore
) -> None:
    root = LocalPlace(chdb.backups)
    base_events = count(chdb)
    with metadb.session() as session:
        session.execute(sa.text("UPDATE tally_installation SET tally_version = 'at-full'"))
    full = backup.create(chdb, NAMES, metadb.url, root, kind="full", now=time.time(),
                         progress=quiet)  # fmt: skip
    # Given more events after the full backup, then an incremental one
    chdb.insert_ndjson(ndjson(known_events()[:40]), dedup_window_s=0)
    with metadb.session() as session:
        session.execute(sa.text("UPDATE tally_installation SET tally_version = 'at-inc'"))
    inc = backup.create(chdb, NAMES, metadb.url, root, kind="incremental", now=time.time() + 1,
                        progress=quiet)  # fmt: skip
    assert (full.kind, inc.kind, inc.base) == ("full", "incremental", full.id)
    assert inc.store_bytes < full.store_bytes  # only what changed
    assert [b.id for b in backup.listing(root)] == [inc.id, full.id]
    # When events keep arriving and the metadata changes, then the full one is restored
    chdb.insert_ndjson(ndjson(known_events()[:5]), dedup_window_s=0)
    with metadb.session() as session:
        session.execute(sa.text("UPDATE tally_installation SET tally_version = 'later'"))
    backup.restore(chdb, NAMES, metadb.url, root, full.id, busy=None, force=False, progress=quiet)
    # Then the store and the metadata DB are as they were at the full backup
    assert count(chdb) == base_events
    with metadb.session() as session:
        version = session.execute(sa.text("SELECT tally_version FROM tally_installation")).scalar()
    assert version == "at-full"
    # And the incremental one restores its own point (through its base)
    backup.restore(chdb, NAMES, metadb.url, root, inc.id, busy=None, force=False, progress=quiet)
    assert count(chdb) == base_events + 40
    assert not [d for d in chdb.query("SHOW DATABASES") if "_restore_" in str(d)]


def test_a_corrupt_foreign_or_busy_restore_changes_nothing(
    sqlite_db: MetadataDB, chdb: ChdbStore
) -> None:
    root = LocalPlace(chdb.backups)
    good = backup.create(chdb, NAMES, sqlite_db.url, root, kind="full", now=time.time(),
                         progress=quiet)  # fmt: skip
    before = count(chdb)
    # A restore while events wait is refused unless forced
    with pytest.raises(Conflict) as busy:
        backup.restore(chdb, NAMES, sqlite_db.url, root, good.id, busy="12 events wait",
                       force=False, progress=quiet)  # fmt: skip
    assert "--force" in str(busy.value)
    # A backup whose store part is damaged: the current store stays as it was
    broken = chdb.backups / "broken"
    broken.mkdir()
    manifest = json.loads((chdb.backups / good.id / backup.MANIFEST).read_text())
    (broken / backup.MANIFEST).write_text(json.dumps({**manifest, "id": "broken"}))
    (broken / "store").mkdir()
    (broken / "store" / ".backup").write_text("<not xml")
    with pytest.raises(StoreError):
        backup.restore(chdb, NAMES, sqlite_db.url, root, "broken", busy=None, force=False,
                       progress=quiet)  # fmt: skip
    assert count(chdb) == before
    assert not [d for d in chdb.query("SHOW DATABASES") if "_restore_" in str(d)]
    # Not a Tally backup, or unfinished (no manifest), or unknown: refused by name
    foreign = chdb.backups / "foreign"
    foreign.mkdir()
    (foreign / backup.MANIFEST).write_text(json.dumps({"hello": 1}))
    unfinished = chdb.backups / "unfinished"
    unfinished.mkdir()
    for name, reason in (("foreign", "foreign"), ("unfinished", "incomplete"),
                         ("nope", "unknown"), ("../etc", "unknown")):  # fmt: skip
        with pytest.raises(ValidationFailed) as caught:
            backup.restore(chdb, NAMES, sqlite_db.url, root, name, busy=None, force=False,
                           progress=quiet)  # fmt: skip
        assert caught.value.reason == reason, name
    assert count(chdb) == before
    listed = {b.id for b in backup.listing(root)}
    assert good.id in listed
    assert not listed & {"foreign", "unfinished"}  # never listed as backups


def test_prune_keeps_the_full_backup_a_kept_incremental_needs(
    sqlite_db: MetadataDB, chdb: ChdbStore
) -> None:
    root = LocalPlace(chdb.backups)
    day = 86_400.0
    now = time.time()
    old_full = backup.create(chdb, NAMES, sqlite_db.url, root, kind="full", now=now - 10 * day,
                             progress=quiet)  # fmt: skip
    old_inc = backup.create(chdb, NAMES, sqlite_db.url, root, kind="incremental",
                            now=now - 9 * day, progress=quiet)  # fmt: skip
    full = backup.create(chdb, NAMES, sqlite_db.url, root, kind="full", now=now - 8 * day,
                         progress=quiet)  # fmt: skip
    inc = backup.create(chdb, NAMES, sqlite_db.url, root, kind="incremental", now=now - 1 * day,
                        progress=quiet)  # fmt: skip
    removed = backup.prune(root, keep_days=7, now=now)
    assert sorted(removed) == sorted([old_full.id, old_inc.id])
    assert [b.id for b in backup.listing(root)] == [inc.id, full.id]  # the base stays
    assert (chdb.backups / inc.id / backup.MANIFEST).exists()


def test_backups_to_an_s3_compatible_store_restore_too(
    sqlite_db: MetadataDB, chdb: ChdbStore, s3: S3Server
) -> None:
    from tally.maintenance.places import S3Place

    s3.bucket("tally-backups")
    place = S3Place("s3://tally-backups/daily", endpoint=s3.url, key="testing", secret="testing")
    before = count(chdb)
    full = backup.create(chdb, NAMES, sqlite_db.url, place, kind="full", now=time.time(),
                         progress=quiet)  # fmt: skip
    chdb.insert_ndjson(ndjson(known_events()[:25]), dedup_window_s=0)
    inc = backup.create(chdb, NAMES, sqlite_db.url, place, kind="incremental",
                        now=time.time() + 1, progress=quiet)  # fmt: skip
    keys = s3.keys("tally-backups")
    assert f"daily/{full.id}/{backup.MANIFEST}" in keys
    assert any(k.startswith(f"daily/{inc.id}/store/") for k in keys)
    assert [b.id for b in backup.listing(place)] == [inc.id, full.id]
    assert full.location == f"s3://tally-backups/daily/{full.id}"
    backup.restore(chdb, NAMES, sqlite_db.url, place, full.id, busy=None, force=False,
                   progress=quiet)  # fmt: skip
    assert count(chdb) == before
    backup.restore(chdb, NAMES, sqlite_db.url, place, inc.id, busy=None, force=False,
                   progress=quiet)  # fmt: skip
    assert count(chdb) == before + 25
    assert backup.prune(place, keep_days=0.0001, now=time.time() + 86_400) == []  # newest + base
