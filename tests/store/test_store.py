"""The store's contract on chDB and on a live ClickHouse server: schema, idempotent
inserts, stats; and chDB's single ownership."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tally.errors import StoreError, StoreLocked
from tally.events.accept import AcceptOptions, accept
from tally.events.schema import COLUMNS
from tally.store import migrations, sql
from tally.store.base import Store
from tally.store.chdb import ChdbStore
from tests.store.conftest import NAMES, OpenStore

# This test's database only: a shared ClickHouse server holds other tests' databases too.
OURS = f"database = '{NAMES.database}'"


@pytest.fixture
def chdb_store(tmp_path: Path) -> Iterator[ChdbStore]:
    s = ChdbStore(tmp_path / "chdb", NAMES, retention_days=90)
    s.upgrade()
    yield s
    s.close()


def ndjson(
    n: int, *, ids: list[str] | None = None, hours_ago: float = 1, retention_days: int = 90
) -> bytes:
    when = (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()
    items = [
        {
            "event_id": ids[i] if ids else str(uuid.uuid4()),
            "event_type": "video_view",
            "entity_type": "video",
            "entity_id": f"v{i % 7}",
            "country": "FR",
            "created_at": when,
        }
        for i in range(n)
    ]
    result = accept(items, AcceptOptions(retention_days=retention_days))
    assert result.accepted == n
    return b"\n".join(result.lines)


def insert_at_schema_1(store: Store, lines: bytes) -> None:
    """Store events as a schema-1 Tally did: into the events table alone."""
    rows = f"format(JSONEachRow, {sql.quote(sql.BATCH_STRUCTURE)}, {sql.quote(lines.decode())})"
    store.command(
        f"INSERT INTO {NAMES.events} ({', '.join(COLUMNS)}) "
        "SELECT * REPLACE (toUUID(event_id) AS event_id, "
        f"fromUnixTimestamp64Milli(created_at, 'UTC') AS created_at) FROM {rows}"
    )


def test_upgrade_is_idempotent(open_store: OpenStore) -> None:
    s = open_store(90)
    assert s.upgrade() == [
        "0001 create user_events",
        "0002 sort user_events by entity, a partition per day",
        "0003 entity and category names beside user_events",
    ]
    assert s.upgrade() == []
    s.close()
    # a new retention setting is applied on the next upgrade, once
    s = open_store(30)
    assert s.upgrade() == ["retention set to 30 days"]
    assert s.upgrade() == []
    # on the events and on the names kept beside them alike
    ttl = s.query(
        f"SELECT engine_full FROM system.tables WHERE {OURS} AND name LIKE 'user_events%'"
    )
    assert len(ttl) == 3
    assert all("toIntervalDay(30)" in t["engine_full"] for t in ttl)
    s.close()


def test_insert_then_stats(store: Store) -> None:
    assert store.insert_ndjson(ndjson(250), dedup_window_s=3600) == 250
    stats = store.stats()
    assert stats.events == 250
    assert stats.oldest is not None
    assert stats.oldest == stats.newest
    assert stats.bytes_on_disk > 0


def test_an_insert_writes_the_names_beside_the_events_and_counts_only_events(
    store: Store,
) -> None:
    # When a batch of 7 entities in one category is inserted
    assert store.insert_ndjson(ndjson(70), dedup_window_s=3600) == 70
    # Then analytics find their names under the keys they group on
    names = store.query(
        f"SELECT entity_key = cityHash64(entity_type, entity_id) AS keyed, entity_id, "
        f"last_seen = (SELECT max(toDate(created_at)) FROM {NAMES.events}) AS seen "
        f"FROM {NAMES.entity_names} FINAL ORDER BY entity_id"
    )
    assert names == [{"keyed": 1, "entity_id": f"v{i}", "seen": 1} for i in range(7)]
    assert store.query(f"SELECT category FROM {NAMES.category_names}") == [{"category": ""}]


def test_replayed_batch_is_not_stored_twice(store: Store) -> None:
    # Given a batch stored once (a flusher that died before acknowledging it)
    batch = ndjson(500)
    store.insert_ndjson(batch, dedup_window_s=3600)
    # When the same batch is inserted again
    written = store.insert_ndjson(batch, dedup_window_s=3600)
    # Then nothing new is written, and every query sees each event once
    assert written == 0
    assert store.query("SELECT count() AS n FROM analytics.user_events")[0]["n"] == 500


def test_client_retry_inside_a_bigger_batch_is_deduplicated(store: Store) -> None:
    ids = [str(uuid.uuid4()) for _ in range(100)]
    store.insert_ndjson(ndjson(100, ids=ids), dedup_window_s=3600)
    retried = ndjson(100, ids=ids) + b"\n" + ndjson(50)
    assert store.insert_ndjson(retried, dedup_window_s=3600) == 50
    assert store.stats().events == 150


def test_duplicates_inside_one_batch_are_stored_once(store: Store) -> None:
    one = ndjson(1)
    assert store.insert_ndjson(b"\n".join([one] * 5), dedup_window_s=3600) == 1


def test_second_process_is_refused_with_a_clear_error(
    chdb_store: ChdbStore, tmp_path: Path
) -> None:
    code = (
        "from pathlib import Path\n"
        "from tally.store.chdb import ChdbStore\n"
        "from tally.store.sql import Names\n"
        "from tally.errors import StoreLocked\n"
        "try:\n"
        f"    ChdbStore(Path({str(tmp_path / 'chdb')!r}), Names('analytics', 'user_events'), 90)\n"
        "except StoreLocked as exc:\n"
        "    print('LOCKED', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "LOCKED" in out.stdout, out.stderr
    assert "owned by pid" in out.stdout


def test_second_store_in_the_same_process_is_refused(chdb_store: ChdbStore, tmp_path: Path) -> None:
    with pytest.raises(StoreLocked):
        ChdbStore(tmp_path / "chdb", NAMES, 90)


def test_query_parameters_and_rows(store: Store) -> None:
    store.insert_ndjson(ndjson(14), dedup_window_s=3600)
    rows = store.query(
        "SELECT entity_id, count() AS n FROM analytics.user_events "
        "WHERE country = {c:String} GROUP BY entity_id ORDER BY entity_id",
        {"c": "FR"},
    )
    assert rows == [{"entity_id": f"v{i}", "n": 2} for i in range(7)]
    assert orjson.dumps(rows)


def test_schema_1_table_is_resorted_by_entity_without_losing_events(open_store: OpenStore) -> None:
    # Given a store at schema 1 (month partitions, event_id order) holding events
    s = open_store(90)
    assert migrations.upgrade(s, NAMES, 90, migrations.MIGRATIONS[:1]) == [
        "0001 create user_events"
    ]
    insert_at_schema_1(s, ndjson(300, hours_ago=30) + b"\n" + ndjson(200, hours_ago=2))
    before = s.query("SELECT event_id, entity_id, created_at FROM analytics.user_events")
    # When it is upgraded
    assert s.upgrade() == [
        "0002 sort user_events by entity, a partition per day",
        "0003 entity and category names beside user_events",
    ]
    # Then every event is still there, once, in the new layout
    after = s.query("SELECT event_id, entity_id, created_at FROM analytics.user_events")
    assert sorted(map(str, before)) == sorted(map(str, after))
    assert len(after) == 500
    table = s.query(
        "SELECT sorting_key, partition_key FROM system.tables "
        f"WHERE {OURS} AND name = 'user_events'"
    )[0]
    assert table["sorting_key"] == "entity_type, entity_id, event_id"
    assert table["partition_key"] == "toDate(created_at)"
    assert (
        s.query(f"SELECT count() AS n FROM system.tables WHERE {OURS} AND name LIKE '%resort%'")[0][
            "n"
        ]
        == 0
    )
    # and the names of the entities and categories stored are there for analytics
    entities = s.query(f"SELECT DISTINCT entity_id FROM {NAMES.entity_names} FINAL ORDER BY 1")
    assert [r["entity_id"] for r in entities] == [f"v{i}" for i in range(7)]
    assert s.query(f"SELECT category FROM {NAMES.category_names} FINAL") == [{"category": ""}]
    assert s.upgrade() == []
    s.close()


def test_resort_repeated_after_a_crash_past_the_swap_keeps_the_new_layout(
    open_store: OpenStore,
) -> None:
    # Given a resort that swapped the tables and died before dropping the old one
    s = open_store(90)
    migrations.upgrade(s, NAMES, 90, migrations.MIGRATIONS[:1])
    insert_at_schema_1(s, ndjson(120))
    for statement in sql.resort_events_table(NAMES, 90)[:-1]:
        s.command(statement)
    # When the migration runs again (it was never recorded)
    assert s.upgrade()[0] == "0002 sort user_events by entity, a partition per day"
    # Then the events are all there, in the new layout, and the leftover is gone
    assert s.stats().events == s.stats().rows == 120
    key = s.query(f"SELECT sorting_key FROM system.tables WHERE {OURS} AND name = 'user_events'")
    assert key[0]["sorting_key"] == "entity_type, entity_id, event_id"
    assert (
        s.query(f"SELECT count() AS n FROM system.tables WHERE {OURS} AND name LIKE '%resort%'")[0][
            "n"
        ]
        == 0
    )
    s.close()


def test_a_backfill_batch_spanning_many_days_is_stored(open_store: OpenStore) -> None:
    # Given a year of retention and one batch whose events span 150 days (a partition per
    # day: over the engine's default limit of 100 partitions per insert)
    store = open_store(365)
    store.upgrade()
    days = [ndjson(1, hours_ago=24 * day + 1, retention_days=365) for day in range(150)]
    # When it is inserted, then every event is stored
    assert store.insert_ndjson(b"\n".join(days), dedup_window_s=3600) == 150
    parts = store.query(
        f"SELECT uniqExact(partition) AS n FROM system.parts WHERE {OURS} "
        "AND table = 'user_events' AND active"
    )
    assert parts[0]["n"] == 150
    store.close()


def test_one_store_serves_many_threads_at_once(store: Store) -> None:
    # Given a worker's threads sharing the store (a flush beside an alerts evaluation)
    from concurrent.futures import ThreadPoolExecutor

    def ask(i: int) -> int:
        rows = store.query("SELECT {i:UInt32} AS i, sleepEachRow(0.01) FROM numbers(5)", {"i": i})
        return int(rows[0]["i"])

    # When 8 threads query together, Then each gets its own answer and none is refused
    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(ask, range(32))) == list(range(32))


def test_export_streams_every_row_in_the_engines_format(store: Store) -> None:
    # Given a query over more rows than one block holds
    chunks: list[bytes] = []
    sql_text = "SELECT number AS n, toString(number * {k:UInt32}) AS s FROM numbers(200000)"
    # When it is exported as CSV with a header
    written = store.export(sql_text, chunks.append, fmt="CSVWithNames", params={"k": 3})
    # Then the bytes arrive in several blocks and parse back to every row
    data = b"".join(chunks)
    assert written.bytes == len(data)
    assert written.rows == (200_000 if store.counts_exported_rows else None)
    assert len(chunks) > 1
    lines = data.decode().splitlines()
    assert lines[0] == '"n","s"'
    assert len(lines) == 200_001
    assert lines[-1] == '199999,"599997"'


def test_export_counts_the_rows_of_the_answer_not_of_what_was_read(store: Store) -> None:
    # Given a filtered, grouped query that reads many more rows than it answers
    sql_text = "SELECT number % 1000 AS k, count() AS n FROM numbers(500000) " \
               "WHERE number % 3 = 0 GROUP BY k ORDER BY k"  # fmt: skip
    chunks: list[bytes] = []
    written = store.export(sql_text, chunks.append, fmt="JSONEachRow")
    assert b"".join(chunks).count(b"\n") == 1000
    if store.counts_exported_rows:
        assert written.rows == 1000


def test_export_of_a_failing_query_raises_the_stores_error(store: Store) -> None:
    # Given a query that fails part-way (after some blocks could have been sent)
    sql_text = "SELECT throwIf(number = 150000) AS x FROM numbers(300000)"
    # Then the caller gets Tally's StoreError, not the engine's exception
    with pytest.raises(StoreError):
        store.export(sql_text, lambda _b: None, fmt="CSV")


STRAY_CHECK = """
import time
from pathlib import Path
from tally.errors import StoreError
from tally.store.chdb import ChdbStore
from tally.store.sql import Names

store = ChdbStore(Path("data/chdb"), Names("analytics", "user_events"), 90, backups=Path("own"))
store.upgrade()
try:
    store.command("BACKUP DATABASE analytics TO File('{stray}/b1')")
    print("STRAY-ALLOWED")
except StoreError as exc:
    print("STRAY-REFUSED", exc)
store.command("BACKUP DATABASE analytics TO File('{own}/b1')")
print("OWN-ALLOWED")
store.query("SELECT count() FROM analytics.user_events")
store.command("SYSTEM FLUSH LOGS")
print("LOGGED", store.query("SELECT count() AS n FROM system.query_log")[0]["n"])
"""


def test_a_stray_config_xml_in_the_working_directory_does_not_change_the_store(
    tmp_path: Path,
) -> None:
    # Given a worker whose working directory holds a config.xml (which chDB would load by
    # itself) allowing backups somewhere else
    stray, own = tmp_path / "stray", tmp_path / "own"
    stray.mkdir()
    (tmp_path / "config.xml").write_text(
        f"<clickhouse><backups><allowed_path>{stray}/</allowed_path></backups></clickhouse>"
    )
    code = STRAY_CHECK.format(stray=stray, own=own)
    # When it opens its store
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)  # fmt: skip
    # Then the store runs on Tally's own configuration: backups only in its own folder,
    # and a query log kept
    assert "STRAY-REFUSED" in out.stdout, out.stdout + out.stderr
    assert "OWN-ALLOWED" in out.stdout, out.stdout + out.stderr
    logged = int(out.stdout.split("LOGGED")[1].split()[0])
    assert logged > 0
    assert not list(stray.iterdir())
    assert (tmp_path / "data" / "chdb" / "tally-chdb.xml").exists()


def test_a_batch_that_does_not_parse_writes_nothing_and_leaves_no_stage(store: Store) -> None:
    # Given a batch whose last line has a key no event has
    bad = ndjson(20) + b'\n{"event_id": "x", "no_such_column": 1}'
    # When it is inserted, then the store refuses it, and nothing of it is stored
    with pytest.raises(StoreError):
        store.insert_ndjson(bad, dedup_window_s=3600)
    assert store.query(f"SELECT count() AS n FROM {NAMES.events}")[0]["n"] == 0
    # And the next batch goes in; no stage of a server flush is left behind
    assert store.insert_ndjson(ndjson(20), dedup_window_s=3600) == 20
    stages = store.query(
        "SELECT name FROM system.tables WHERE database = {db:String} "
        "AND startsWith(name, 'tally_flush_stage_')",
        {"db": NAMES.database},
    )
    assert stages == []
