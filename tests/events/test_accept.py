"""Validation: every rejection reason, mixed batches, parsing, IP anonymisation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
import pytest

from tally.errors import PayloadTooLarge, ValidationFailed
from tally.events.accept import AcceptOptions, accept, parse_body
from tally.events.schema import Reason

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def valid(**extra: Any) -> dict[str, Any]:
    return {"event_type": "video_view", "entity_type": "video", "entity_id": "v1", **extra}


def reasons(items: list[Any], **options: Any) -> list[tuple[int, str, str]]:
    result = accept(items, AcceptOptions(**options), NOW)
    return [(r.index, r.reason.value, r.field) for r in result.rejections]


@pytest.mark.parametrize(
    ("event", "reason", "field"),
    [
        ({"entity_type": "video", "entity_id": "v1"}, Reason.MISSING_FIELD, "event_type"),
        (valid(colour="red"), Reason.UNKNOWN_FIELD, "colour"),
        (valid(user_id=["a"]), Reason.INVALID_FIELD, "user_id"),
        (valid(event_type="bad type!"), Reason.INVALID_FIELD, "event_type"),
        (valid(event_id="not-a-uuid"), Reason.INVALID_FIELD, "event_id"),
        (valid(country="XX"), Reason.INVALID_COUNTRY, "country"),
        (valid(country="FRA"), Reason.TOO_LARGE, "country"),
        (valid(referrer="x" * 3000), Reason.TOO_LARGE, "referrer"),
        (valid(event_metadata="x" * 20_000), Reason.TOO_LARGE, "event_metadata"),
        (valid(event_metadata="[1, 2]"), Reason.INVALID_FIELD, "event_metadata"),
        (valid(event_metadata="{oops"), Reason.INVALID_FIELD, "event_metadata"),
        (valid(ip_address="999.1.1.1"), Reason.INVALID_FIELD, "ip_address"),
        (
            valid(user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)"),
            Reason.BOT_USER_AGENT,
            "user_agent",
        ),
        (valid(user_agent="python-requests/2.32"), Reason.BOT_USER_AGENT, "user_agent"),
        (valid(created_at="2099-01-01T00:00:00Z"), Reason.FUTURE_TIMESTAMP, "created_at"),
        (valid(created_at="2001-01-01T00:00:00Z"), Reason.EXPIRED_TIMESTAMP, "created_at"),
        (valid(created_at="yesterday"), Reason.INVALID_FIELD, "created_at"),
        ({"event_type": "view", "entity_id": "v1"}, Reason.INVALID_FIELD, "entity_id"),
        ("just a string", Reason.NOT_AN_OBJECT, "body"),
    ],
)
def test_each_bad_event_gets_its_reason_and_field(event: Any, reason: Reason, field: str) -> None:
    # Given one bad event, When it is validated, Then it is rejected with its typed reason
    assert reasons([event]) == [(0, reason.value, field)]


def test_mixed_batch_keeps_valid_events_in_order() -> None:
    # Given a batch mixing valid and invalid events
    items = [valid(entity_id="a"), valid(country="ZZ"), valid(entity_id="b"), 42]
    # When it is accepted
    result = accept(items, AcceptOptions(), NOW)
    # Then the valid ones are encoded and each bad one is reported by index
    assert result.accepted == 2
    assert [orjson.loads(line)["entity_id"] for line in result.lines] == ["a", "b"]
    assert [(r.index, r.reason) for r in result.rejections] == [
        (1, Reason.INVALID_COUNTRY),
        (3, Reason.NOT_AN_OBJECT),
    ]


def test_bots_are_accepted_when_rejection_is_off() -> None:
    assert reasons([valid(user_agent="Googlebot/2.1")], reject_bots=False) == []


def test_encoded_event_is_normalised() -> None:
    # Given an event with a client id, lower-case country, JSON-string metadata, naive time
    event_id = str(uuid.uuid4()).upper()
    item = valid(
        event_id=event_id,
        country="fr",
        event_metadata='{"a": 1}',
        user_id=42,
        created_at="2026-11-22T11:00:00",
        ip_address="2001:db8::1",
    )
    # When accepted
    line = orjson.loads(accept([item], AcceptOptions(), NOW).lines[0])
    # Then every field has its canonical stored form
    assert line["event_id"] == event_id.lower()
    assert line["country"] == "FR"
    assert line["event_metadata"] == '{"a":1}'
    assert line["user_id"] == "42"
    assert line["created_at"] == int(datetime(2026, 11, 22, 11, tzinfo=UTC).timestamp() * 1000)
    assert line["ip_address"] == "2001:db8::1"


def test_null_text_fields_are_stored_empty_and_bools_are_not_ids() -> None:
    # Given nulls where text is optional, and a boolean where an id belongs
    item = valid(country=None, category=None, user_agent=None, referrer=None)
    # When accepted
    line = orjson.loads(accept([item], AcceptOptions(), NOW).lines[0])
    # Then nulls are stored as empty text; a boolean id is rejected, not stored as "True"
    assert [line[k] for k in ("country", "category", "user_agent", "referrer")] == [""] * 4
    assert reasons([valid(user_id=True)]) == [(0, "invalid_field", "user_id")]


def test_missing_event_id_and_time_are_generated() -> None:
    result = accept([valid()], AcceptOptions(), NOW)
    line = orjson.loads(result.lines[0])
    assert uuid.UUID(line["event_id"]).version == 4
    assert result.event_ids == [line["event_id"]]
    assert line["created_at"] == int(NOW.timestamp() * 1000)


def test_clock_skew_within_the_allowance_is_accepted() -> None:
    soon = (NOW + timedelta(seconds=60)).isoformat()
    assert reasons([valid(created_at=soon)]) == []


@pytest.mark.parametrize(
    ("mode", "ip", "stored"),
    [
        ("none", "203.0.113.77", "203.0.113.77"),
        ("truncate", "203.0.113.77", "203.0.113.0"),
        ("truncate", "2001:db8:1234:5678::1", "2001:db8:1234::"),
    ],
)
def test_ip_anonymisation(mode: Literal["none", "truncate", "hash"], ip: str, stored: str) -> None:
    line = orjson.loads(
        accept([valid(ip_address=ip)], AcceptOptions(ip_anonymization=mode), NOW).lines[0]
    )
    assert line["ip_address"] == stored


def test_ip_hashing_hides_the_address_and_is_stable() -> None:
    options = AcceptOptions(ip_anonymization="hash", ip_hash_salt="pepper")
    first = orjson.loads(accept([valid(ip_address="198.51.100.9")], options, NOW).lines[0])
    second = orjson.loads(accept([valid(ip_address="198.51.100.9")], options, NOW).lines[0])
    assert first["ip_address"] == second["ip_address"]
    assert "198.51" not in first["ip_address"]


def test_oversized_event_is_rejected_as_too_large() -> None:
    assert reasons([valid(event_metadata={"k": "x" * 5000})], max_event_bytes=1024) == [
        (0, "too_large", "event")
    ]


def test_batch_over_the_limit_is_refused_whole() -> None:
    with pytest.raises(PayloadTooLarge) as exc:
        accept([valid()] * 11, AcceptOptions(max_batch_events=10), NOW)
    assert exc.value.field == "body"


def test_parse_body_accepts_object_array_and_ndjson() -> None:
    assert parse_body(b'{"event_type": "a"}', "application/json") == [{"event_type": "a"}]
    assert parse_body(b'[{"event_type": "a"}, {"event_type": "b"}]', None) == [
        {"event_type": "a"},
        {"event_type": "b"},
    ]
    items = parse_body(b'{"event_type": "a"}\n\n{"event_type": "b"}\n', "application/x-ndjson")
    assert items == [{"event_type": "a"}, {"event_type": "b"}]


def test_malformed_ndjson_line_is_rejected_alone() -> None:
    items = parse_body(b'{"event_type": "a"}\n{broken\n{"event_type": "b"}', "application/x-ndjson")
    assert reasons(items) == [(1, "invalid_json", "body")]


def test_malformed_json_body_is_an_error_naming_the_body() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_body(b'{"event_type": ', "application/json")
    assert (exc.value.field, exc.value.reason) == ("body", "invalid_json")


def test_a_timestamp_that_leaves_datetimes_range_in_utc_is_rejected_not_a_crash() -> None:
    # Year 1 at 01:00 with a +10:11 offset is before 0001-01-01 in UTC
    result = accept([{"event_type": "v", "created_at": "0001-01-01T01:00:00+10:11"}],
                    AcceptOptions())  # fmt: skip
    assert result.accepted == 0
    assert result.rejections[0].field == "created_at"
