"""Backup and restore of 10M events: full vs incremental, and flushes during a backup.

  python bench/backup.py [--events 10000000] [--more 1000000] [--dir /tmp/tally-bench-backup]

Events come from bench/analytics.py's generator (chDB). Printed, in one run:
- a full backup (store and metadata DB), then `--more` events, then an incremental one on
  it: seconds and bytes on disk; a restore of each (the incremental through its base);
- flushes during a backup: a thread inserts a batch of 1,000 events every 50 ms (a flush's
  insert) while a full backup runs; the longest an insert waited, with Tally's ASYNC
  backup beside a plain synchronous `BACKUP` (the baseline: it holds the store's one
  connection until done).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from analytics import NAMES, generate
from tally.events.accept import AcceptOptions, accept
from tally.infra.metadb.db import MetadataDB, database_url
from tally.infra.metadb.migrate import upgrade
from tally.maintenance import backup
from tally.maintenance.places import LocalPlace
from tally.store.chdb import ChdbStore

console = Console()


def quiet(_pct: float, _msg: str) -> None:
    return None


def batch(n: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    items = [{"event_id": str(uuid.uuid4()), "event_type": "video_view", "entity_type": "video",
              "entity_id": f"v{i % 100}", "country": "FR", "created_at": now} for i in range(n)]  # fmt: skip
    return b"\n".join(accept(items, AcceptOptions()).lines)


def more(store: ChdbStore, n: int) -> None:
    """`n` more events, as a day of ingest would add them."""
    store.command(
        f"INSERT INTO {NAMES.events} (event_id, event_type, entity_type, entity_id, user_id, "
        "country, category, created_at) SELECT generateUUIDv4(number + 7), 'video_view', "
        "'video', concat('v', toString(number % 5000)), concat('u', toString(number % 9999)), "
        f"'FR', 'music', now64(3) FROM numbers({n})"
    )


def longest_insert_wait(store: ChdbStore, during: Callable[[], None]) -> tuple[float, float, int]:
    """Run `during`; meanwhile insert every 50 ms: (its seconds, longest insert s, inserts)."""
    payload = batch(1000)
    stop = threading.Event()
    waits: list[float] = []

    def inserter() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            store.insert_ndjson(payload, dedup_window_s=0)
            waits.append(time.perf_counter() - started)
            time.sleep(0.05)

    thread = threading.Thread(target=inserter)
    thread.start()
    time.sleep(0.3)
    started = time.perf_counter()
    during()
    took = time.perf_counter() - started
    stop.set()
    thread.join()
    return took, max(waits), len(waits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--more", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="tally-bench-backup-"))
    console.print(f"generating {args.events:,} events in {root / 'chdb'} …")
    generate(root / "chdb", args.events, int(time.time() * 1000))
    store = ChdbStore(root / "chdb", NAMES, 90, backups=root / "backups")
    db = MetadataDB(database_url(None, root))
    upgrade(db)
    backups = LocalPlace(root / "backups")
    rows = []

    def timed(what: str, fn: Callable[[], object], size: Callable[[], int] | None = None) -> None:
        started = time.perf_counter()
        fn()
        took = time.perf_counter() - started
        rows.append((what, f"{took:.2f}", "" if size is None else f"{size() / 1e6:,.0f}"))

    made: dict[str, backup.Backup] = {}

    def full() -> None:
        made["full"] = backup.create(store, NAMES, db.url, backups, kind="full",
                                     now=time.time(), progress=quiet)  # fmt: skip

    def incremental() -> None:
        made["inc"] = backup.create(store, NAMES, db.url, backups, kind="incremental",
                                    now=time.time() + 1, progress=quiet)  # fmt: skip

    timed(f"full backup of {args.events:,} events", full, lambda: made["full"].store_bytes)
    console.print(f"adding {args.more:,} events …")
    more(store, args.more)
    timed(f"incremental after {args.more:,} more", incremental, lambda: made["inc"].store_bytes)

    def restore(which: str) -> Callable[[], object]:
        return lambda: backup.restore(store, NAMES, db.url, backups, made[which].id, busy=None,
                                      force=False, progress=quiet)  # fmt: skip

    timed("restore of the full backup", restore("full"))
    timed("restore of the incremental (through its base)", restore("inc"))

    table = Table(title=f"backup and restore, {args.events:,} events (chDB)")
    for col in ("what", "seconds", "MB on disk"):
        table.add_column(col, justify="left" if col == "what" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)

    async_took, async_wait, async_n = longest_insert_wait(store, lambda: backup.create(
        store, NAMES, db.url, backups, kind="full", now=time.time() + 2, progress=quiet))  # fmt: skip
    plain = root / "backups" / "plain-sync"
    sync_took, sync_wait, sync_n = longest_insert_wait(store, lambda: store.command(
        f"BACKUP DATABASE {NAMES.database} TO File('{plain.resolve()}')"))  # fmt: skip
    flushes = Table(title="inserts of 1,000 events every 50 ms during a full backup")
    for col in ("backup", "backup s", "inserts", "longest insert wait s"):
        flushes.add_column(col, justify="left" if col == "backup" else "right")
    flushes.add_row("Tally (BACKUP … ASYNC, polled)", f"{async_took:.2f}", str(async_n),
                    f"{async_wait:.3f}")  # fmt: skip
    flushes.add_row("plain synchronous BACKUP (baseline)", f"{sync_took:.2f}", str(sync_n),
                    f"{sync_wait:.3f}")  # fmt: skip
    console.print(flushes)
    store.close()
    db.close()


if __name__ == "__main__":
    main()
