"""Alerts routes (SPEC §10): rules, channels, history; test, preview, mute and evaluate now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tally import keys
from tally.alerts.channels import ChannelIn
from tally.alerts.rules import RuleIn
from tally.api.deps import Authenticated, ReadAuthenticated, RuntimeDep
from tally.api.docs import COMMON, Enqueued, _Open, errors, job_links

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


class GroupState(_Open):
    """The state of one (rule, group)."""

    group: str = Field(description="the country or category, or '' for an ungrouped rule")
    state: str = Field(examples=["firing"], description="ok, pending, firing, resolved or error")
    since: float
    value: float | None
    bound: float | None
    message: str | None
    evaluated_at: float


class RuleOut(_Open):
    """A rule: its definition, when it runs, and its groups' states."""

    id: int
    name: str
    spec: dict[str, Any]
    state: str = Field(description="the worst of its groups: error, firing, pending, resolved, ok")
    firing: int
    groups: list[GroupState]
    muted_until: float | None
    next_eval_at: float | None
    last_eval_at: float | None


class ChannelOut(_Open):
    """A channel; its secrets (password, URL, signing secret) only as `set` or `unset`."""

    id: int
    name: str
    kind: str = Field(examples=["webhook"])


class HistoryEntry(_Open):
    """One state change."""

    id: int
    rule_id: int
    rule: str | None
    group_key: str
    at: float
    from_state: str
    to_state: str
    value: float | None
    bound: float | None
    message: str | None


class NotificationOut(_Open):
    """A notification of the outbox and every attempt to send it."""

    id: str = Field(description="the notification id, sent as the Idempotency-Key header")
    rule_id: int | None
    channel_id: int
    kind: str = Field(examples=["firing"])
    status: str = Field(examples=["sent"], description="pending, sending, sent, failed, suppressed")
    attempts: int
    attempt_log: list[dict[str, Any]]


class TestOutcome(_Open):
    """What a test notification did on one channel."""

    notification_id: str
    outcome: str = Field(examples=["sent"])
    error: str | None


class Preview(_Open):
    """When the rule would have fired and resolved over the range replayed."""

    rule: str
    evaluations: int
    step_s: int
    fired: int
    episodes: list[dict[str, Any]]
    transitions: list[dict[str, Any]]


class Mute(BaseModel):
    """Silence a rule until a time, or for a duration; neither unmutes."""

    model_config = ConfigDict(extra="forbid")
    until: datetime | None = None
    for_s: int | None = Field(default=None, ge=1, le=366 * 86_400)


# --- rules ---------------------------------------------------------------------------------
@router.get("/rules", dependencies=[ReadAuthenticated], response_model=list[RuleOut],
            responses=errors(401, *COMMON))  # fmt: skip
def list_rules(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Every rule with its state."""
    return runtime.alerts.rules()


@router.post("/rules", status_code=201, dependencies=[Authenticated], response_model=RuleOut,
             responses=errors(401, 409, *COMMON))  # fmt: skip
def create_rule(runtime: RuntimeDep, body: RuleIn) -> dict[str, Any]:
    """Create a rule (422 naming the field; 409 when the name is taken)."""
    return runtime.alerts.create_rule(body)


@router.get("/rules/{ref}", dependencies=[ReadAuthenticated], response_model=RuleOut,
            responses=errors(401, 404, *COMMON))  # fmt: skip
def get_rule(runtime: RuntimeDep, ref: str) -> dict[str, Any]:
    """One rule by id or name."""
    return runtime.alerts.rule(ref)


@router.put("/rules/{ref}", dependencies=[Authenticated], response_model=RuleOut,
            responses=errors(401, 404, 409, *COMMON))  # fmt: skip
def replace_rule(runtime: RuntimeDep, ref: str, body: RuleIn) -> dict[str, Any]:
    """Replace a rule's definition (its states and history stay)."""
    return runtime.alerts.replace_rule(ref, body)


@router.delete("/rules/{ref}", status_code=204, dependencies=[Authenticated],
               responses=errors(401, 404, *COMMON))  # fmt: skip
def delete_rule(runtime: RuntimeDep, ref: str) -> Response:
    """Delete a rule and its states (its history stays)."""
    runtime.alerts.delete_rule(ref)
    return Response(status_code=204)


@router.post("/rules/{ref}/mute", dependencies=[Authenticated], response_model=RuleOut,
             responses=errors(401, 404, *COMMON))  # fmt: skip
def mute_rule(runtime: RuntimeDep, ref: str, body: Annotated[Mute, Body()]) -> dict[str, Any]:
    """Mute until a time or for `for_s` seconds (states still tracked); neither: unmute."""
    until = body.until
    if until is None and body.for_s is not None:
        until = datetime.now(UTC) + timedelta(seconds=body.for_s)
    return runtime.alerts.mute(ref, until)


@router.post("/rules/{ref}/test", dependencies=[Authenticated], response_model=list[TestOutcome],
             responses=errors(401, 404, *COMMON))  # fmt: skip
def test_rule(runtime: RuntimeDep, ref: str) -> list[dict[str, Any]]:
    """Send a clearly marked test notification to each of the rule's channels, now."""
    return runtime.alerts.test(ref)


@router.post("/rules/{ref}/preview", dependencies=[Authenticated], response_model=Preview,
             responses=errors(401, 404, 502, 504, *COMMON))  # fmt: skip
def preview_rule(
    runtime: RuntimeDep,
    ref: str,
    days: Annotated[float, Query(gt=0, le=31, description="days replayed, up to now")] = 7.0,
) -> dict[str, Any]:
    """Replay an `events` rule over past data: when it would have fired and resolved."""
    return runtime.alerts.preview(ref, days)


@router.post("/rules/{ref}/evaluate", status_code=202, dependencies=[Authenticated],
             responses={202: {"model": Enqueued}, **errors(401, 404, *COMMON)})  # fmt: skip
def evaluate_rule(runtime: RuntimeDep, ref: str) -> JSONResponse:
    """Evaluate the rule now, whether it is due or not (a job on the `alerts` queue)."""
    rule_id = runtime.alerts.rule(ref)["id"]
    job_id = runtime.jobs.send(keys.TASK_ALERTS_EVALUATE, rules=[rule_id])
    body = {"job_id": job_id, "status": "queued", **job_links(job_id)}
    return JSONResponse(status_code=202, content=body)


# --- channels ------------------------------------------------------------------------------
@router.get("/channels", dependencies=[ReadAuthenticated], response_model=list[ChannelOut],
            responses=errors(401, *COMMON))  # fmt: skip
def list_channels(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Every channel (secrets as `set`)."""
    return runtime.alerts.channels()


@router.post("/channels", status_code=201, dependencies=[Authenticated], response_model=ChannelOut,
             responses=errors(401, 409, *COMMON))  # fmt: skip
def create_channel(runtime: RuntimeDep, body: Annotated[ChannelIn, Body()]) -> dict[str, Any]:
    """Create a channel; its URL must be allowed (TALLY_WEBHOOK_ALLOWED_HOSTS)."""
    return runtime.alerts.save_channel(body)


@router.get("/channels/{ref}", dependencies=[ReadAuthenticated], response_model=ChannelOut,
            responses=errors(401, 404, *COMMON))  # fmt: skip
def get_channel(runtime: RuntimeDep, ref: str) -> dict[str, Any]:
    """One channel by id or name."""
    return runtime.alerts.channel(ref)


@router.put("/channels/{ref}", dependencies=[Authenticated], response_model=ChannelOut,
            responses=errors(401, 404, 409, *COMMON))  # fmt: skip
def replace_channel(
    runtime: RuntimeDep, ref: str, body: Annotated[ChannelIn, Body()]
) -> dict[str, Any]:
    """Replace a channel; secrets it leaves out are kept."""
    return runtime.alerts.save_channel(body, ref)


@router.delete("/channels/{ref}", status_code=204, dependencies=[Authenticated],
               responses=errors(401, 404, *COMMON))  # fmt: skip
def delete_channel(runtime: RuntimeDep, ref: str) -> Response:
    """Delete a channel."""
    runtime.alerts.delete_channel(ref)
    return Response(status_code=204)


# --- history -------------------------------------------------------------------------------
@router.get("/history", dependencies=[ReadAuthenticated], response_model=list[HistoryEntry],
            responses=errors(401, 404, *COMMON))  # fmt: skip
def history(
    runtime: RuntimeDep,
    rule: Annotated[str | None, Query(max_length=200, description="a rule id or name")] = None,
    since: Annotated[float | None, Query(ge=0, description="epoch seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[dict[str, Any]]:
    """State changes, newest first."""
    return runtime.alerts.history(rule, since=since, limit=limit)


@router.get("/notifications", dependencies=[ReadAuthenticated],
            response_model=list[NotificationOut], responses=errors(401, 404, *COMMON))  # fmt: skip
def notifications(
    runtime: RuntimeDep,
    rule: Annotated[str | None, Query(max_length=200, description="a rule id or name")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[dict[str, Any]]:
    """Notifications and every attempt to send them, newest first."""
    return runtime.alerts.notifications(rule, limit=limit)
