"""Bytes of Redis per buffered event, to size `maxmemory` for a store outage (issue 22).

Buffers the ingest benchmark's events through Tally's real path (validation, encoding,
chunked stream entries) on a private redis-server, and prints Redis's memory per event
beside the baseline of the same events' encoded JSON bytes, and beside one stream entry
per event (what a plain XADD-per-event queue would take).

    python bench/redis_sizing.py [--events 200000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import events, free_port
from tally.buffer.redis import RedisStreamBuffer
from tally.events.accept import AcceptOptions, accept
from tally.infra.redis import connect

console = Console()


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    n = args.events
    generated = events(n)
    lines = [
        line
        for i in range(0, n, 10_000)
        for line in accept(generated[i : i + 10_000], AcceptOptions()).lines
    ]
    payload = sum(len(line) for line in lines)

    data = Path(tempfile.mkdtemp(prefix="tally-sizing-"))
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(data)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = connect(f"redis://127.0.0.1:{port}/0", 5)
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.RedisError:
                time.sleep(0.1)
        base = used(client)
        buffer = RedisStreamBuffer(client)
        for i in range(0, n, 5000):
            buffer.append(lines[i : i + 5000])
        tally_bytes = used(client) - base
        stream_bytes = int(client.memory_usage("tally:events:stream", samples=0) or 0)
        client.flushall()
        base = used(client)
        pipe = client.pipeline(transaction=False)
        for i, line in enumerate(lines):
            pipe.xadd("raw", {"d": line})
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        raw_bytes = used(client) - base
    finally:
        server.kill()
        shutil.rmtree(data, ignore_errors=True)

    table = Table(title=f"Redis memory per buffered event ({n:,} events)", title_justify="left")
    for column in ("what", "bytes per event", "vs encoded JSON"):
        table.add_column(column, justify="left" if column == "what" else "right")
    per_json = payload / n
    rows = [
        ("encoded JSON of the event (baseline)", per_json),
        ("Tally's buffer: used_memory growth", tally_bytes / n),
        ("Tally's buffer: MEMORY USAGE of the stream", stream_bytes / n),
        ("one stream entry per event (XADD each)", raw_bytes / n),
    ]
    for what, per in rows:
        table.add_row(what, f"{per:,.0f}", f"{per / per_json:.2f}x")
    console.print(table)
    mb_per_m = tally_bytes / n * 1_000_000 / 2**20
    console.print(f"{mb_per_m:,.0f} MB of maxmemory per million buffered events")
    console.print(orjson.dumps({"events": n, "bytes_per_event": tally_bytes / n}).decode())


if __name__ == "__main__":
    main()
