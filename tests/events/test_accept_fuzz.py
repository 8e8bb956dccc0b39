"""Property tests of event validation: only typed rejections, never a bad event accepted."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tally.events.accept import AcceptOptions, accept
from tally.events.countries import ISO_3166_ALPHA2
from tally.events.schema import COLUMNS, Reason

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OPTIONS = AcceptOptions()
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=80),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
times = st.datetimes(
    # hypothesis takes naive bounds and attaches `timezones` itself
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.isoformat())
# Values that are often valid, so that accepted events are common enough to check.
plausible: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.uuids().map(str) | st.text(max_size=40),
    "event_type": st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True) | st.text(max_size=70),
    "entity_type": st.sampled_from(["video", "cagnotte", ""]),
    "entity_id": st.text(max_size=300) | st.integers(),
    "user_id": st.text(max_size=20) | st.integers(),
    "country": st.sampled_from(["FR", "us", "ZZ", "", "FRA"]) | st.none(),
    "category": st.text(max_size=70) | st.none(),
    "event_metadata": st.dictionaries(st.text(max_size=5), scalars, max_size=3)
    | st.text(max_size=30),
    "ip_address": st.ip_addresses().map(str) | st.text(max_size=20),
    "user_agent": st.sampled_from(["Mozilla/5.0", "Googlebot/2.1", "curl/8.0", ""]),
    "created_at": times
    | st.just((NOW - timedelta(hours=1)).isoformat())
    | st.integers(min_value=0, max_value=2**41),
}
events = st.fixed_dictionaries(
    {"event_type": plausible["event_type"]},
    optional={
        **{k: v for k, v in plausible.items() if k != "event_type"},
        **{"unknown_" + k: json_values for k in ("a", "b")},
    },
)


def check_accepted(line: bytes) -> None:
    """An accepted event is exactly what the store's schema allows."""
    event = orjson.loads(line)
    assert list(event) == list(COLUMNS)
    assert str(uuid.UUID(event["event_id"])) == event["event_id"]
    assert NAME.match(event["event_type"])
    assert len(event["event_type"]) <= 64
    assert event["country"] == "" or event["country"] in ISO_3166_ALPHA2
    assert bool(event["entity_type"]) == bool(event["entity_id"])
    assert len(event["entity_id"]) <= 256
    assert len(event["category"]) <= 64
    assert all(isinstance(event[c], str) for c in COLUMNS if c != "created_at")
    oldest = NOW - timedelta(days=OPTIONS.retention_days)
    newest = NOW + timedelta(seconds=OPTIONS.max_future_skew_s)
    assert oldest.timestamp() * 1000 <= event["created_at"] <= newest.timestamp() * 1000
    if event["event_metadata"]:
        assert isinstance(orjson.loads(event["event_metadata"]), dict)
    if OPTIONS.reject_bots:
        assert "bot" not in event["user_agent"].lower()
        assert "curl" not in event["user_agent"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values | events, max_size=6))
def test_any_json_gets_events_or_typed_rejections(items: list[Any]) -> None:
    # Given any JSON values (objects shaped like events or not)
    # When the batch is validated
    result = accept(items, OPTIONS, NOW)
    # Then every item is either accepted or rejected once, each rejection typed
    rejected = [r.index for r in result.rejections]
    assert len(set(rejected)) == len(rejected)
    assert result.accepted + len(rejected) == len(items)
    for rejection in result.rejections:
        assert isinstance(rejection.reason, Reason)
        assert rejection.field
        assert rejection.message
    # And what was accepted obeys the schema, in the order it came
    for line in result.lines:
        check_accepted(line)
    assert result.event_ids == [orjson.loads(line)["event_id"] for line in result.lines]


@settings(max_examples=200, deadline=None)
@given(events)
def test_an_event_gets_the_same_verdict_alone_or_in_a_batch(event: dict[str, Any]) -> None:
    # Given one event, alone and between two items that are not events
    alone = accept([event], OPTIONS, NOW)
    batch = accept([{"not": "an event"}, event, 42], OPTIONS, NOW)
    # Then its neighbours change nothing: same verdict, same reason, same stored form
    assert alone.accepted == batch.accepted
    assert [(r.reason, r.field) for r in alone.rejections] == [
        (r.reason, r.field) for r in batch.rejections if r.index == 1
    ]

    def stored(lines: list[bytes]) -> list[dict[str, Any]]:
        return [{**orjson.loads(x), "event_id": None} for x in lines]  # ids may be generated

    assert stored(alone.lines) == stored(batch.lines)
