"""Tally's analytics run vs the seed-000 way (pandas), same data, same answers, one run.

  python bench/analytics.py [--events 10000000] [--dir /tmp/tally-bench-analytics]

Events are generated inside chDB (3 days, Zipf-like entities, 20 countries, 10
categories). Each way runs in its own process so that its peak RSS is its own:
- tally:  analytics.compute.compute() -> one SQL aggregation in the store;
- pandas: load the last 3 days into a DataFrame and compute the four result sets in Python.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from tally.analytics.compute import compute
from tally.analytics.params import AnalyticsParams
from tally.store import lookups
from tally.store.chdb import ChdbStore
from tally.store.sql import Names

NAMES = Names("analytics", "user_events")
console = Console()
ZIPF = "toUInt32(50000 * pow(rand(number + 1) / 4294967296., 4))"
TYPES = (
    "['video_view','video_view','video_view','video_view','video_view','video_view',"
    "'video_view','video_replay','video_skip','video_favorite','video_share',"
    "'cagnotte_detail_view','other_type']"
)


class PeakRss:
    """Samples this process's RSS every 5 ms (ru_maxrss would keep start-up peaks)."""

    def __init__(self) -> None:
        self.before_mb = psutil.Process().memory_info().rss / 2**20
        self.peak_mb = self.before_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        proc = psutil.Process()
        while not self._stop.wait(0.005):
            self.peak_mb = max(self.peak_mb, proc.memory_info().rss / 2**20)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {"rss_before_mb": self.before_mb, "rss_peak_mb": self.peak_mb}


def generate(path: Path, n: int, as_of_ms: int) -> None:
    store = ChdbStore(path, NAMES, 90)
    store.upgrade()
    for table in NAMES.data_tables:
        store.command(f"TRUNCATE TABLE {table}")
    countries = "['FR','US','DE','GB','ES','IT','BR','CA','JP','IN','MX','NL','BE','CH','PL','SE','RU','UA','MA','SN']"
    categories = (
        "['music','sport','gaming','news','comedy','education','travel','food','tech','charity']"
    )
    store.command(
        f"""INSERT INTO {NAMES.events}
        (event_id, event_type, entity_type, entity_id, user_id, country, category, created_at)
        SELECT generateUUIDv4(number), {TYPES}[1 + rand(number) % 13] AS et,
               if(et = 'cagnotte_detail_view', 'cagnotte', 'video'),
               concat('v', toString({ZIPF})), concat('u', toString(rand(number + 5) % 200000)),
               {countries}[1 + ({ZIPF} * 7 + rand(number + 2) % 3) % 20],
               {categories}[1 + {ZIPF} % 10],
               fromUnixTimestamp64Milli({as_of_ms} - toInt64(rand64(number + 4) % 259200000), 'UTC')
        FROM numbers({n})"""
    )
    # Tally's insert writes the names beside the events (store.lookups); so does this one.
    for statement in lookups.record_stored_names(NAMES):
        store.command(statement)
    # A table whose older data the background merges have compacted, as in a running
    # deployment. Measured right after a bulk insert instead, Tally's run competes with those
    # merges for both cores and its FINAL reads many unmerged parts: ~2 s instead of ~0.9 s.
    for table in NAMES.data_tables:
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    store.close()


def run_tally(path: Path, as_of_ms: int) -> dict[str, Any]:
    store = ChdbStore(path, NAMES, 90)
    store.query("SELECT 1")
    rss = PeakRss()
    t0 = time.perf_counter()
    run = compute(store, AnalyticsParams(), datetime.fromtimestamp(as_of_ms / 1000, UTC))
    elapsed = time.perf_counter() - t0
    answers = {
        f"{m}/{d}": {
            g: [
                [r["entity_type"], r["entity_id"], r.get("score", r.get("trend_score"))]
                for r in rows
            ]
            for g, rows in p["groups"].items()
        }
        for (m, d), p in run.payloads.items()
    }
    return {
        "seconds": elapsed,
        **rss.stop(),
        "answers": answers,
    }


def run_pandas(path: Path, as_of_ms: int) -> dict[str, Any]:
    import numpy as np

    store = ChdbStore(path, NAMES, 90)
    store.query("SELECT 1")
    rss = PeakRss()
    p = AnalyticsParams()
    t0 = time.perf_counter()
    df = store._conn.query(  # the seed's way: every raw event of the last 3 days into Python
        f"SELECT toString(event_id) AS event_id, event_type, entity_type, entity_id, country, "
        f"category, toUnixTimestamp64Milli(created_at) AS t_ms FROM {NAMES.events} "
        f"WHERE created_at > fromUnixTimestamp64Milli({as_of_ms - 259200000}, 'UTC') "
        f"AND created_at <= fromUnixTimestamp64Milli({as_of_ms}, 'UTC')",
        "DataFrame",
    )
    df = df.drop_duplicates("event_id")
    df["w"] = df["event_type"].map(p.weights).fillna(0.0).astype(float)
    recent = df["t_ms"] > as_of_ms - 86400000
    df["s"] = np.where(
        recent, df["w"] * np.exp(-(as_of_ms - df["t_ms"]) / (p.time_decay_days * 86400000)), 0.0
    )
    df["r"], df["b"], df["n"] = (
        df["w"].where(recent, 0.0),
        df["w"].where(~recent, 0.0),
        recent.astype(int),
    )
    answers: dict[str, Any] = {}
    for dim in ("country", "category"):
        g = (
            df.groupby([dim, "entity_type", "entity_id"], observed=True)[["s", "r", "b", "n"]]
            .sum()
            .reset_index()
        )
        pop = g[g.s > 0].sort_values(
            [dim, "s", "entity_type", "entity_id"], ascending=[True, False, True, True]
        )
        pop = pop.groupby(dim, observed=True).head(p.top_n)
        g["e"] = g.b / 2
        g["t"] = (g.r - g.e) / np.sqrt(g.e.clip(lower=0) + p.trend_prior)
        tr = g[(g.n >= p.trend_min_events) & (g.t > 0)]
        tr = tr.sort_values(
            [dim, "t", "entity_type", "entity_id"], ascending=[True, False, True, True]
        )
        tr = tr.groupby(dim, observed=True).head(p.top_n)
        for name, frame, col in (("popularity", pop, "s"), ("trending", tr, "t")):
            answers[f"{name}/{dim}"] = {
                str(k): [
                    [r.entity_type, r.entity_id, float(getattr(r, col))] for r in rows.itertuples()
                ]
                for k, rows in frame.groupby(dim, observed=True)
            }
    elapsed = time.perf_counter() - t0
    return {
        "seconds": elapsed,
        **rss.stop(),
        "answers": answers,
    }


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same groups, entities and order; scores equal to 1e-9 relative."""
    if a.keys() != b.keys():
        return False
    for key in a:
        if a[key].keys() != b[key].keys():
            return False
        for group in a[key]:
            x, y = a[key][group], b[key][group]
            if [r[:2] for r in x] != [r[:2] for r in y]:
                return False
            if not all(math.isclose(r[2], s[2], rel_tol=1e-9) for r, s in zip(x, y, strict=True)):
                return False
    return True


def child(way: str, path: Path, as_of_ms: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", way, "--dir", str(path), "--as-of-ms", str(as_of_ms)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/tally-bench-analytics"))
    ap.add_argument("--child", choices=["tally", "pandas"])
    ap.add_argument("--as-of-ms", type=int, default=0)
    args = ap.parse_args()
    if args.child:
        way = run_tally if args.child == "tally" else run_pandas
        print(json.dumps(way(args.dir, args.as_of_ms)))
        return
    as_of_ms = int(time.time() * 1000)
    with console.status(f"generating {args.events:,} events in chDB"):
        t0 = time.perf_counter()
        generate(args.dir, args.events, as_of_ms)
    console.print(f"generated {args.events:,} events in {time.perf_counter() - t0:.1f} s")
    with console.status("tally: analytics in the store"):
        tally = child("tally", args.dir, as_of_ms)
    with console.status("seed-000 way: pandas"):
        pandas = child("pandas", args.dir, as_of_ms)
    equal = same(tally.pop("answers"), pandas.pop("answers"))
    table = Table(title=f"analytics run, {args.events:,} events over 3 days (chDB)")
    for column in ("way", "seconds", "RSS growth MB", "peak RSS MB"):
        table.add_column(column, justify="right")
    for name, r in (("tally (SQL in store)", tally), ("seed-000 (pandas)", pandas)):
        growth = r["rss_peak_mb"] - r["rss_before_mb"]
        table.add_row(name, f"{r['seconds']:.2f}", f"{growth:,.0f}", f"{r['rss_peak_mb']:,.0f}")
    console.print(table)
    console.print(f"speed-up: {pandas['seconds'] / tally['seconds']:.1f}x   same answers: {equal}")
    if not equal:
        raise SystemExit("the two ways disagree")


if __name__ == "__main__":
    main()
