"""Preview replays a rule over a known history: the hand-computed firing and resolve times."""

from __future__ import annotations

from typing import Any

import pytest

from tally.alerts import repo
from tally.alerts.preview import preview
from tally.alerts.render import iso
from tally.alerts.rules import RuleIn
from tally.errors import ValidationFailed
from tally.infra.metadb.db import MetadataDB
from tally.store.base import Store
from tests.alerts.conftest import T0, put_events, service_on

H = 3600.0
# Views per hour window ending at T0 - j hours: 10 everywhere but a drop at j=5,4 and j=1.
COUNTS = {j: 10 for j in range(30)} | {5: 4, 4: 4, 1: 2}


def saved(db: MetadataDB, **definition: Any) -> repo.Rule:
    service = service_on(db)
    body = {"name": "views FR drop", "every_s": 3600, **definition}
    created = service.create_rule(RuleIn.model_validate(body))
    with db.session() as session:
        return repo.rule(session.connection(), created["id"])


@pytest.fixture
def hourly(store: Store) -> Store:
    rows = [(T0 - j * H - 60, "video_view", "FR", "music", "u") for j, n in COUNTS.items()
            for _ in range(n)]  # fmt: skip
    put_events(store, rows)
    return store


SPEC = {"kind": "events", "event_type": "video_view", "country": "FR", "window_s": 3600,
        "condition": "change_pct", "bound": -50}  # fmt: skip


def test_a_halving_fires_and_the_next_hour_resolves(hourly: Store, sqlite_db: MetadataDB) -> None:
    # Given "video_view per hour in FR below 50% of the previous hour"
    rule = saved(sqlite_db, spec=SPEC)
    # When it is replayed over the past day, hour by hour
    out = preview(hourly, rule, 1, {}, now=T0)
    # Then: j=5 is -60 % (fires), j=4 is 0 % (resolves), j=1 is -80 % (fires), j=0 is +400 %
    assert out["evaluations"] == 24
    assert out["step_s"] == 3600
    assert out["episodes"] == [
        {"group": "", "fired_at": iso(T0 - 5 * H), "resolved_at": iso(T0 - 4 * H)},
        {"group": "", "fired_at": iso(T0 - 1 * H), "resolved_at": iso(T0)},
    ]
    assert out["fired"] == 2


def test_for_two_needs_two_breaches_in_a_row(hourly: Store, sqlite_db: MetadataDB) -> None:
    rule = saved(sqlite_db, spec=SPEC, **{"for": 2})
    out = preview(hourly, rule, 1, {}, now=T0)
    assert out["fired"] == 0
    assert [t["to"] for t in out["transitions"]] == ["pending", "ok", "pending", "ok"]


def test_an_above_rule_grouped_by_country(hourly: Store, sqlite_db: MetadataDB) -> None:
    spec = {"kind": "events", "group_by": "country", "window_s": 3600, "condition": "below",
            "bound": 5}  # fmt: skip
    out = preview(hourly, saved(sqlite_db, spec=spec), 1, {}, now=T0)
    assert [(e["fired_at"], e["resolved_at"]) for e in out["episodes"]] == [
        (iso(T0 - 5 * H), iso(T0 - 3 * H)),
        (iso(T0 - 1 * H), iso(T0)),
    ]


def test_only_events_rules_replay(sqlite_db: MetadataDB, store: Store) -> None:
    rule = saved(sqlite_db, spec={"kind": "metric", "metric": "queue_depth", "bound": 10})
    with pytest.raises(ValidationFailed) as caught:
        preview(store, rule, 1, {})
    assert caught.value.field == "kind"


def test_a_failed_jobs_rule_replays_the_job_history(sqlite_db: MetadataDB) -> None:
    from tally.alerts.preview import preview_failures

    spec = {"kind": "metric", "metric": "failed_jobs", "window_s": 3600, "bound": 0}
    rule = saved(sqlite_db, spec=spec)
    # Given failures of `export` 5 h ago and of `mail` 2 h ago, each in one hourly window
    failures = [(T0 - 5 * H - 10, "export"), (T0 - 2 * H - 10, "mail"), (T0 - 2 * H - 20, "mail")]
    out = preview_failures(rule, 1, failures, now=T0)
    assert out["episodes"] == [
        {"group": "export", "fired_at": iso(T0 - 5 * H), "resolved_at": iso(T0 - 4 * H)},
        {"group": "mail", "fired_at": iso(T0 - 2 * H), "resolved_at": iso(T0 - 1 * H)},
    ]
    values = [t["value"] for t in out["transitions"] if t["to"] == "firing"]
    assert values == [1.0, 2.0]
