"""`tally demo`: synthetic events through ingest, flush and analytics, shown as tables."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tally.cli.analytics import print_top
from tally.cli.common import console, fail, friendly_errors, kv_table, load_settings, print_banner
from tally.cli.follow import track
from tally.runtime.runtime import Runtime, embedded_runtime, stop_embedded
from tally.settings import Mode, StoreSettings

EVENT_TYPES = (
    ("video_view", 0.70),
    ("video_replay", 0.10),
    ("video_favorite", 0.06),
    ("video_share", 0.04),
    ("video_skip", 0.08),
    ("cagnotte_detail_view", 0.02),
)
COUNTRIES = [
    "FR",
    "US",
    "DE",
    "GB",
    "ES",
    "IT",
    "BR",
    "CA",
    "JP",
    "IN",
    "MX",
    "NL",
    "BE",
    "CH",
    "PL",
    "SE",
    "RU",
    "UA",
    "MA",
    "SN",
]
CATEGORIES = [
    "music",
    "sport",
    "gaming",
    "news",
    "comedy",
    "education",
    "travel",
    "food",
    "tech",
    "charity",
]


SURGING = 8  # entities whose audience jumps in the last 24 h: what trending should find


def synthetic_events(n: int, *, days: float = 3.5, seed: int = 7) -> list[dict[str, Any]]:
    """A video platform's stream: Zipf-like popularity, ~20 countries, ~10 categories.

    Most events spread evenly over `days`; a few mid-ranked entities get a burst in the
    last 24 h (5% of all events), so trending has something real to find.
    """
    rng = random.Random(seed)
    now_s = time.time()
    types, weights = zip(*EVENT_TYPES, strict=True)
    entities = 20_000
    ranks = [1.0 / (i + 1) ** 1.1 for i in range(entities)]
    chosen = rng.choices(range(entities), weights=ranks, k=n)
    surging = rng.sample(range(200, 2_000), SURGING)
    kinds = rng.choices(types, weights=weights, k=n)
    span_s, day_s = days * 86_400, 86_400.0
    users = [f"u{i}" for i in range(50_000)]
    uas = "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"
    stamp = datetime.fromtimestamp
    events = []
    for i in range(n):
        if rng.random() < 0.05:  # a surge event: one of the surging entities, last 24 h
            e = surging[i % SURGING]
            age_s = rng.random() * day_s
        else:
            e = chosen[i]
            age_s = rng.random() * span_s
        kind = kinds[i]
        events.append(
            {
                "event_id": f"{rng.getrandbits(128):032x}",
                "event_type": kind,
                "entity_type": "cagnotte" if kind == "cagnotte_detail_view" else "video",
                "entity_id": f"c{e}" if kind == "cagnotte_detail_view" else f"v{e}",
                "user_id": users[rng.randrange(50_000)],
                "session_id": f"s{rng.getrandbits(24)}",
                # Each entity has a home country and audiences in two neighbouring ones.
                "country": COUNTRIES[(e * 7 + rng.randrange(3)) % len(COUNTRIES)],
                "category": CATEGORIES[e % len(CATEGORIES)],
                "user_agent": uas,
                "created_at": stamp(now_s - age_s, UTC).isoformat(),
            }
        )
    return events


def demo(
    events: Annotated[
        int, typer.Option("--events", "-n", min=1, help="events to generate")
    ] = 1_000_000,
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="events per ingest request")
    ] = 10_000,
) -> None:
    """The main job on the embedded default: generate → ingest → flush → analytics → tables."""
    settings = load_settings()
    if settings.mode is not Mode.EMBEDDED:
        fail("`tally demo` runs on the embedded default; unset REDIS_URL")
    print_banner(settings)
    timings: dict[str, str] = {}
    started = time.perf_counter()
    with friendly_errors():
        t0 = time.perf_counter()
        runtime = embedded_runtime(settings, announce=False)
        timings["start (open store)"] = f"{time.perf_counter() - t0:.2f} s"
        try:
            with _progress() as progress:
                t0 = time.perf_counter()
                task = progress.add_task("generate", total=1)
                generated = synthetic_events(events)
                progress.update(task, completed=1)
                timings["generate"] = f"{time.perf_counter() - t0:.2f} s"

                t0 = time.perf_counter()
                task = progress.add_task("ingest", total=len(generated))
                accepted = 0
                for start in range(0, len(generated), batch):
                    result = runtime.events.ingest(generated[start : start + batch])
                    accepted += result.accepted.accepted
                    progress.advance(task, min(batch, len(generated) - start))
                del generated
                elapsed = time.perf_counter() - t0
                timings["ingest"] = f"{elapsed:.2f} s ({accepted / elapsed:,.0f} events/s)"

                t0 = time.perf_counter()
                task = progress.add_task("flush", total=accepted)
                while True:  # size-triggered flushes may still be running beside this one
                    runtime.store.flush(wait=True, timeout_s=600)
                    waiting = runtime.events.buffer.size()
                    progress.update(task, completed=accepted - waiting)
                    if waiting == 0:
                        break
                    time.sleep(0.05)
                timings["flush (rest of buffer)"] = f"{time.perf_counter() - t0:.2f} s"

                t0 = time.perf_counter()
                task = progress.add_task("analytics", total=100)
                job = runtime.analytics.run(None, wait=False, timeout_s=600)
                metadata = _follow(runtime, str(job["job_id"]), progress, task)
                timings["analytics"] = (
                    f"{time.perf_counter() - t0:.2f} s "
                    f"({metadata['events_scanned']:,} events, query {metadata['duration_ms']} ms)"
                )
            stats = runtime.store.stats(60)
            print_top(runtime, groups_per_dimension=3, rows=5)
        finally:
            stop_embedded()
    timings["total"] = f"{time.perf_counter() - started:.2f} s"
    console.print(kv_table("store", stats))
    console.print(kv_table("timings", timings))
    default = StoreSettings.model_fields["data_dir"].default
    prefix = "" if settings.data_dir == default else f"TALLY_DATA_DIR={settings.data_dir} "
    console.print(
        f"The events stay in {settings.data_dir}: [bold]{prefix}tally dev[/] opens them in the "
        "dashboard (it runs the analytics again at start)."
    )


def _follow(runtime: Runtime, job_id: str, progress: Progress, task: TaskID) -> dict[str, Any]:
    record = track(runtime, job_id, lambda pct, _: progress.update(task, completed=pct), 600.0)
    if record.status.value != "succeeded":
        fail(f"analytics run {record.status}: {record.error}")
    result: dict[str, Any] = record.result
    return result


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
