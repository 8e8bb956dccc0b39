"""Tally: the background side of a product-analytics backend.

The SDK lives here: `tally.track_event(...)`, `tally.flush_events_now()`,
`tally.get_queue_size()`, and seed 004's `tally.analytics_service` object. Importing
`tally` is cheap; the SDK loads on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_SDK = ("track_event", "flush_events_now", "get_queue_size", "enqueue", "configure", "Client",
        "AnalyticsService", "analytics_service")  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _SDK:
        from tally import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'tally' has no attribute {name!r}")
