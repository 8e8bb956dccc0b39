"""The alerts jobs on the `alerts` queue: evaluate, send, and react to jobs and analytics runs."""

from __future__ import annotations

import logging
import time
from typing import Any

from tally import keys
from tally.alerts import outbox, repo
from tally.alerts.apply import Superseded, apply
from tally.alerts.deliver import deliver
from tally.alerts.evaluate import (
    Cycle,
    Sources,
    analytics_observations,
    job_observations,
    run_cycle,
)
from tally.alerts.preview import preview, preview_failures
from tally.alerts.service import AlertsService
from tally.alerts.state import State
from tally.jobs import Every, JobContext, job
from tally.jobs.hooks import Ended, Send, on_finished
from tally.jobs.housekeeping import purge
from tally.jobs.resources import Resources
from tally.settings import AlertsSettings

log = logging.getLogger("tally.alerts")
WATCH_FRESH_S = 2.0  # how long a worker trusts its list of watched tasks (a DB read)


def every_tick(alerts: AlertsSettings) -> Every:
    """TALLY_ALERTS_TICK_S: beat looks for due rules this often (each has its own schedule)."""
    return Every(alerts.tick_s, expires_s=alerts.tick_s)


def _send_all(ctx: JobContext, ids: list[str]) -> None:
    assert ctx.enqueue is not None
    for nid in ids:
        ctx.enqueue(keys.TASK_ALERTS_DELIVER, notification_id=nid)


def _summary(cycle: Cycle) -> dict[str, Any]:
    return {
        "evaluated": len(cycle.evaluated),
        "changes": cycle.changes,
        "notifications": len(cycle.notifications),
        "errors": cycle.errors,
    }


@job(
    keys.TASK_ALERTS_EVALUATE,
    queue=keys.ALERTS_QUEUE,
    max_tries=1,  # the next tick is the retry
    schedule=every_tick,
    schedule_name="alerts-evaluate",
)
def alerts_evaluate(ctx: JobContext, rules: list[int] | None = None) -> dict[str, Any]:
    """Evaluate the rules due now (or these rule ids) and send what changed.

    Each tick also sends again what a crashed sender left unmarked once its lease is over
    (retries of failed sends are scheduled by the send itself).
    """
    service = ctx.resource(AlertsService)
    cycle = run_cycle(
        service.db, ctx.resource(Sources), time.time(), limits=service.limits,
        dashboard_url=service.dashboard_url, only=rules,
    )  # fmt: skip
    with service.db.session() as session:
        again = [n for n in outbox.due(session.connection(), time.time())
                 if n not in cycle.notifications]  # fmt: skip
    _send_all(ctx, cycle.notifications + again)
    return {**_summary(cycle), "sent_again": len(again)}


@job(keys.TASK_ALERTS_DELIVER, queue=keys.ALERTS_QUEUE, max_tries=1)
def alerts_deliver(ctx: JobContext, notification_id: str) -> dict[str, Any]:
    """Send one notification; a failed send schedules its own retry (backoff, or the breaker)."""
    service = ctx.resource(AlertsService)
    done = deliver(service.db, notification_id, service.settings, service.breakers)
    if done.next_at is not None:
        wait_s = max(0.5, done.next_at - time.time())
        service.jobs.enqueue(keys.TASK_ALERTS_DELIVER, kwargs={"notification_id": notification_id},
                             countdown=wait_s)  # fmt: skip
    return {"outcome": done.outcome, "attempt": done.attempt, "error": done.error}


@job(keys.TASK_ALERTS_ON_JOB, queue=keys.ALERTS_QUEUE, retry_for=(Superseded,), max_tries=5)
def alerts_on_job(
    ctx: JobContext, task: str, job_id: str, *, failed: bool, error: str | None = None
) -> dict[str, Any]:
    """A job of a watched task ended: `job` rules fire on a failure, resolve on a success."""
    service = ctx.resource(AlertsService)
    now, sent = time.time(), []
    with service.db.session() as session:
        rules = repo.rules(session.connection())
    for rule in rules:
        spec = rule.spec
        if spec.kind != "job" or not rule.definition.enabled or task not in spec.tasks:
            continue
        seen = job_observations(rule, task, failed=failed, error=error, job_id=job_id)
        done = apply(service.db, rule, seen, now, limits=service.limits,
                     dashboard_url=service.dashboard_url)  # fmt: skip
        sent += done.notifications
    _send_all(ctx, sent)
    return {"notifications": len(sent)}


@job(keys.TASK_ALERTS_AFTER_ANALYTICS, queue=keys.ALERTS_QUEUE, max_tries=3)
def alerts_after_analytics(ctx: JobContext) -> dict[str, Any]:
    """After an analytics run: `analytics` rules see the new top N and trend scores."""
    service = ctx.resource(AlertsService)
    sources = ctx.resource(Sources)
    now, sent, evaluated = time.time(), [], 0
    with service.db.session() as session:
        conn = session.connection()
        rules = [r for r in repo.rules(conn) if r.spec.kind == "analytics" and r.definition.enabled]
        states = repo.states(conn, [r.id for r in rules])
    if sources.rankings is None:
        return {"evaluated": 0, "notifications": 0}
    for rule in rules:
        tracked = [
            g for g, s in states[rule.id].items() if s.state in (State.FIRING, State.PENDING)
        ]
        seen = analytics_observations(rule, sources.rankings, tracked)
        try:
            done = apply(service.db, rule, seen, now, limits=service.limits,
                         dashboard_url=service.dashboard_url)  # fmt: skip
        except Superseded:
            continue
        evaluated += 1
        sent += done.notifications
    _send_all(ctx, sent)
    return {"evaluated": evaluated, "notifications": len(sent)}


@job(keys.TASK_ALERTS_PREVIEW, queue=keys.ALERTS_QUEUE, max_tries=1)
def alerts_preview(ctx: JobContext, rule_id: int, days: float = 7.0) -> dict[str, Any]:
    """Replay a rule over the past `days`: when it would have fired and resolved."""
    service = ctx.resource(AlertsService)
    sources = ctx.resource(Sources)
    with service.db.session() as session:
        rule = repo.rule(session.connection(), rule_id)
    spec = rule.spec
    if spec.kind == "metric" and getattr(spec, "metric", None) == "failed_jobs":
        if sources.measures is None:
            raise RuntimeError("this worker cannot read the job history")
        since = time.time() - days * 86_400 - spec.window_s
        return preview_failures(rule, days, sources.measures.failures(spec.task, since))
    if sources.store is None:
        raise RuntimeError("this worker has no store to replay events from")
    return preview(sources.store(), rule, days, sources.weights)


# --- the job platform's signal: which ended jobs concern alerts ----------------------------
_watch: dict[int, tuple[float, set[str], bool]] = {}


def _watched(service: AlertsService) -> tuple[set[str], bool]:
    """Tasks named by enabled `job` rules, and whether any `analytics` rule is enabled."""
    now = time.monotonic()
    cached = _watch.get(id(service))
    if cached is None or now - cached[0] > WATCH_FRESH_S:
        with service.db.session() as session:
            rules = [r for r in repo.rules(session.connection()) if r.definition.enabled]
        tasks = {t for r in rules if r.spec.kind == "job" for t in getattr(r.spec, "tasks", [])}
        cached = (now, tasks, any(r.spec.kind == "analytics" for r in rules))
        _watch[id(service)] = cached
    return cached[1], cached[2]


@on_finished
def _on_job_end(ended: Ended, send: Send, resources: Resources) -> None:
    if ended.task.startswith("alerts."):
        return  # alerts' own jobs never feed alerts (no loops)
    try:
        service = resources.get(AlertsService)
    except RuntimeError:
        return  # a process without the alerts capability
    tasks, analytics = _watched(service)
    if ended.task in tasks:
        kwargs = {"task": ended.task, "job_id": ended.job_id, "failed": ended.failed,
                  "error": ended.error}  # fmt: skip
        send(keys.TASK_ALERTS_ON_JOB, kwargs)
    published = isinstance(ended.result, dict) and ended.result.get("published") == "live"
    if analytics and ended.task == keys.TASK_ANALYTICS_RUN and not ended.failed and published:
        send(keys.TASK_ALERTS_AFTER_ANALYTICS, {})


@purge("alerts")
def _purge_history(resources: Resources, now: float) -> dict[str, int]:
    service = resources.get(AlertsService)
    before = now - service.settings.history_days * 86_400
    with service.db.session() as session:
        return outbox.purge(session.connection(), before)
