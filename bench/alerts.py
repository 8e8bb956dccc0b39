"""1,000 `events` rules over 10M stored events: one evaluation cycle vs a query per rule.

  python bench/alerts.py [--events 10000000] [--rules 1000] [--dir /tmp/tally-bench-alerts]

Events come from bench/analytics.py's generator (3 days, Zipf-like entities, 20 countries,
10 categories, chDB). Rules mix filters (event type, country, category, entity), grouping
(none, country, category), measures (count, weighted, unique users), windows (5 min, 1 h)
and conditions. Printed side by side, in one run:
- cycle:     alerts.evaluate.run_cycle: the rules due, read in one query per window size,
             their states and notifications written to the metadata DB (SQLite);
- per rule:  the same reads as one query per rule (the baseline a rule-at-a-time loop has).
The cycle is the median of 5 after a warm-up (the first writes every rule's first states).
Then the latency from a breaching evaluation to a local webhook receiving the notification
(evaluation, commit, the delivery job's send), over 200 state changes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import TypeAdapter
from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from analytics import NAMES, generate
from tally.alerts import series
from tally.alerts.channels import ChannelIn
from tally.alerts.deliver import deliver
from tally.alerts.evaluate import Sources, run_cycle
from tally.alerts.rules import EventsSpec, RuleIn
from tally.alerts.service import AlertsService
from tally.analytics.params import DEFAULT_WEIGHTS
from tally.infra.metadb.db import MetadataDB, database_url
from tally.infra.metadb.migrate import upgrade
from tally.settings import AlertsSettings
from tally.store.chdb import ChdbStore

console = Console()
COUNTRIES = ["FR", "US", "DE", "GB", "ES", "IT", "BR", "CA", "JP", "IN"]
CATEGORIES = ["music", "sport", "gaming", "news", "comedy"]
TYPES = ["video_view", "video_share", "video_favorite", "video_skip"]


def rule_body(i: int) -> dict[str, Any]:
    """A varied events rule: filters, grouping, measure, window and condition by `i`."""
    spec: dict[str, Any] = {"kind": "events", "window_s": 300 if i % 3 == 0 else 3600}
    if i % 2 == 0:
        spec["event_type"] = TYPES[i % len(TYPES)]
    if i % 5 == 1:
        spec["country"] = COUNTRIES[i % len(COUNTRIES)]
    if i % 7 == 2:
        spec["category"] = CATEGORIES[i % len(CATEGORIES)]
    if i % 11 == 3:
        spec["entity"] = f"video:v{i % 50}"
    spec["group_by"] = [None, "country", "category"][i % 3] if "entity" not in spec else None
    spec["measure"] = ["count", "count", "weighted", "unique_users"][i % 4]
    condition = ["above", "below", "change_pct", "anomaly"][(i // 4) % 4]
    spec["condition"] = condition
    spec["bound"] = {"above": 1e9, "below": -1.0, "change_pct": 1e6, "anomaly": 50.0}[condition]
    return {"name": f"rule {i:04d}", "every_s": 60, "spec": spec}


def measure_cycle(db: MetadataDB, store: ChdbStore, service: AlertsService, n: int) -> float:
    with db.session() as session:  # every rule due now
        session.execute(sa.text("UPDATE analytics_alerts SET next_eval_at = 0"))
    t0 = time.perf_counter()
    cycle = run_cycle(db, Sources(lambda: store, weights=dict(DEFAULT_WEIGHTS)), time.time(),
                      limits=service.limits, dashboard_url="http://bench")  # fmt: skip
    elapsed = time.perf_counter() - t0
    assert len(cycle.evaluated) == n, (len(cycle.evaluated), cycle.errors)
    return elapsed


def measure_per_rule(store: ChdbStore, service: AlertsService) -> float:
    due = [series.Due(r["id"], EventsSpec.model_validate(r["spec"])) for r in service.rules()]
    now = time.time()
    t0 = time.perf_counter()
    for one in track(due, description="one query per rule", console=console, transient=True):
        series.one_rule(store, one, now, dict(DEFAULT_WEIGHTS))
    return time.perf_counter() - t0


class Hook(BaseHTTPRequestHandler):
    """Records when each notification arrives."""

    arrivals: ClassVar[dict[str, float]] = {}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Hook.arrivals[self.headers["Idempotency-Key"]] = time.perf_counter()
        del body
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def measure_latency(db: MetadataDB, store: ChdbStore, changes: int) -> list[float]:
    """Seconds from the start of a breaching evaluation to the webhook's receipt."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = AlertsSettings.model_validate(
        {"TALLY_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "TALLY_ALERTS_MAX_PER_RULE_PER_HOUR": 10_000}
    )
    service = AlertsService(db, settings, None, None, "http://bench")  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{server.server_port}/hook"
    service.save_channel(TypeAdapter(ChannelIn).validate_python(
        {"name": "bench hook", "kind": "webhook", "url": url}))  # fmt: skip
    flip = service.create_rule(RuleIn.model_validate({
        "name": "latency", "every_s": 1, "channels": ["bench hook"],
        "spec": {"kind": "events", "country": "FR", "window_s": 3600, "condition": "above",
                 "bound": 0}}))  # fmt: skip
    sources = Sources(lambda: store, weights=dict(DEFAULT_WEIGHTS))
    out = []
    for i in track(range(changes), description="breach → webhook", console=console,
                   transient=True):  # fmt: skip
        # Alternate the bound so each evaluation is a state change (fires, then resolves).
        bound = 0 if i % 2 == 0 else 1e12
        body = {"name": "latency", "every_s": 1, "channels": ["bench hook"],
                "spec": {"kind": "events", "country": "FR", "window_s": 3600,
                         "condition": "above", "bound": bound}}  # fmt: skip
        service.replace_rule(flip["id"], RuleIn.model_validate(body))
        t0 = time.perf_counter()
        cycle = run_cycle(db, sources, time.time(), limits=service.limits,
                          dashboard_url="http://bench", only=[flip["id"]])  # fmt: skip
        for nid in cycle.notifications:  # what the alerts.deliver job does, here in line
            deliver(db, nid, settings, None)
            out.append(Hook.arrivals[nid] - t0)
    server.shutdown()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/tally-bench-alerts"))
    args = ap.parse_args()
    with console.status(f"generating {args.events:,} events in chDB"):
        generate(args.dir / "chdb", args.events, int(time.time() * 1000))
    store = ChdbStore(args.dir / "chdb", NAMES, 90)
    meta = Path(tempfile.mkdtemp(prefix="tally-bench-alerts-meta"))
    db = MetadataDB(database_url(None, meta))
    upgrade(db)
    service = AlertsService(db, AlertsSettings(), None, None, "http://bench")  # type: ignore[arg-type]
    for i in track(range(args.rules), description="saving rules", console=console,
                   transient=True):  # fmt: skip
        service.create_rule(RuleIn.model_validate(rule_body(i)))
    # The first cycle writes every rule's first states (once in a rule's life): a warm-up.
    measure_cycle(db, store, service, args.rules)
    cycles = [measure_cycle(db, store, service, args.rules) for _ in range(5)]
    per_rule = measure_per_rule(store, service)
    latency = measure_latency(db, store, 200)
    cycle = statistics.median(cycles)
    table = Table(title=f"{args.rules:,} events rules over {args.events:,} events (chDB)")
    for col in ("way", "seconds", "queries"):
        table.add_column(col, justify="right")
    due = [
        series.Due(i, EventsSpec.model_validate(rule_body(i)["spec"])) for i in range(args.rules)
    ]
    queries = len(series.batches(due))
    reads = []
    for _ in range(5):
        t0 = time.perf_counter()
        series.read(store, due, time.time(), dict(DEFAULT_WEIGHTS))
        reads.append(time.perf_counter() - t0)
    table.add_row("one cycle (median of 5, after a warm-up)", f"{cycle:.2f}", str(queries))
    table.add_row("  of which the store's reads", f"{statistics.median(reads):.2f}", str(queries))
    table.add_row("one query per rule (baseline)", f"{per_rule:.2f}", f"{args.rules:,}")
    console.print(table)
    console.print(f"speed-up: {per_rule / cycle:.1f}x   (target: cycle ≤ 2 s and ≥ 10x)")
    q = statistics.quantiles(latency, n=20)
    console.print(f"breach → webhook over {len(latency)} changes: p50 {statistics.median(latency) * 1000:.0f} ms, "
                  f"p95 {q[18] * 1000:.0f} ms, max {max(latency) * 1000:.0f} ms (target p95 ≤ 2 s)")  # fmt: skip
    store.close()


if __name__ == "__main__":
    main()
