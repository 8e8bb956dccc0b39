"""`tally demo`: synthetic events through the real ingest path, flushed, then store stats."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tally.cli.common import console, fail, friendly_errors, kv_table, load_settings, print_banner
from tally.runtime.core import embedded_runtime, stop_embedded
from tally.settings import Mode

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


def synthetic_events(n: int, *, days: int = 3, seed: int = 7) -> list[dict[str, Any]]:
    """A video platform's stream: Zipf-like entity popularity, ~20 countries, ~10 categories."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    types, weights = zip(*EVENT_TYPES, strict=True)
    entities = 5_000
    ranks = [1.0 / (i + 1) ** 1.1 for i in range(entities)]
    chosen = rng.choices(range(entities), weights=ranks, k=n)
    kinds = rng.choices(types, weights=weights, k=n)
    span_s = days * 86_400
    events = []
    for i in range(n):
        e = chosen[i]
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "event_type": kinds[i],
                "entity_type": "cagnotte" if kinds[i] == "cagnotte_detail_view" else "video",
                "entity_id": f"v{e}",
                "user_id": f"u{rng.randrange(200_000)}",
                "session_id": f"s{rng.randrange(1_000_000)}",
                "country": COUNTRIES[(e * 7 + rng.randrange(3)) % len(COUNTRIES)],
                "category": CATEGORIES[e % len(CATEGORIES)],
                "user_agent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36",
                "created_at": (now - timedelta(seconds=rng.uniform(0, span_s))).isoformat(),
            }
        )
    return events


def demo(
    events: Annotated[
        int, typer.Option("--events", "-n", min=1, help="events to generate")
    ] = 200_000,
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="events per ingest request")
    ] = 5_000,
) -> None:
    """Run the main job on the embedded default: generate → ingest → flush → store stats."""
    settings = load_settings()
    if settings.mode is not Mode.EMBEDDED:
        fail("`tally demo` runs on the embedded default; unset REDIS_URL")
    print_banner(settings)
    timings: dict[str, str] = {}
    with friendly_errors():
        t0 = time.perf_counter()
        runtime = embedded_runtime(settings)
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
                    result = runtime.ingest(generated[start : start + batch])
                    accepted += result.accepted.accepted
                    progress.advance(task, min(batch, len(generated) - start))
                elapsed = time.perf_counter() - t0
                timings["ingest"] = f"{elapsed:.2f} s ({accepted / elapsed:,.0f} events/s)"

                t0 = time.perf_counter()
                task = progress.add_task("flush", total=1)
                runtime.flush(wait=True, timeout_s=600)
                while runtime.buffer.size() > 0:  # size-triggered flushes may still be running
                    runtime.flush(wait=True, timeout_s=600)
                    time.sleep(0.05)
                progress.update(task, completed=1)
                elapsed = time.perf_counter() - t0
                timings["flush"] = f"{elapsed:.2f} s ({accepted / elapsed:,.0f} rows/s)"

            stats = runtime.store_stats(60)
        finally:
            stop_embedded()
    console.print(kv_table("store", stats))
    console.print(kv_table("timings", timings))


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
