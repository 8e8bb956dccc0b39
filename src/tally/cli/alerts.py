"""`tally alerts rules|channels|history|preview|test|mute|evaluate` (SPEC §10)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import TypeAdapter, ValidationError
from rich.table import Table

from tally import keys
from tally.alerts.channels import ChannelIn
from tally.alerts.rules import RuleIn
from tally.cli.common import console, fail, kv_table, show, when
from tally.cli.session import session

alerts_app = typer.Typer(help="Alert rules, channels and their history (SPEC §10).",
                         no_args_is_help=True)  # fmt: skip
rules_app = typer.Typer(help="Alert rules: list, show, create, replace, delete.",
                        no_args_is_help=True)  # fmt: skip
channels_app = typer.Typer(help="Alert channels: email, webhook, slack.", no_args_is_help=True)
alerts_app.add_typer(rules_app, name="rules")
alerts_app.add_typer(channels_app, name="channels")

Ref = Annotated[str, typer.Argument(help="the rule's id or name")]
Source = Annotated[str, typer.Argument(help="a JSON file (or - for standard input)")]
_CHANNEL: TypeAdapter[Any] = TypeAdapter(ChannelIn)


def _read(source: str) -> Any:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        return orjson.loads(raw)
    except OSError as exc:
        fail(f"{source}: {exc.strerror}")
    except orjson.JSONDecodeError as exc:
        fail(f"{source}: not JSON: {exc}")


def _invalid(exc: ValidationError) -> None:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    fail(f"{where}: {first['msg']}")


def _rules_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="alert rules", title_justify="left")
    for col in ("id", "name", "kind", "state", "firing", "value", "next evaluation", "muted"):
        table.add_column(col)
    for r in rows:
        values = [g["value"] for g in r["groups"] if g["value"] is not None]
        colour = {"firing": "red", "pending": "yellow", "error": "magenta"}.get(r["state"], "green")
        table.add_row(
            str(r["id"]), r["name"], r["spec"]["kind"], f"[{colour}]{r['state']}[/]",
            str(r["firing"]), show(values[0]) if len(values) == 1 else show(len(values)),
            when(r["next_eval_at"]), when(r["muted_until"]) if r["muted_until"] else "",
        )  # fmt: skip
    return table


@rules_app.command("list")
def rules_list() -> None:
    """Every rule with its state."""
    with session() as runtime:
        console.print(_rules_table(runtime.alerts.rules()))


@rules_app.command("show")
def rules_show(ref: Ref) -> None:
    """One rule: its definition and each group's state."""
    with session() as runtime:
        rule = runtime.alerts.rule(ref)
    groups = rule.pop("groups")
    console.print(kv_table(f"rule {rule['name']}", rule))
    table = Table(title="groups", title_justify="left")
    for col in ("group", "state", "value", "bound", "since", "message"):
        table.add_column(col)
    for g in groups:
        table.add_row(g["group"] or "(all)", g["state"], show(g["value"]), show(g["bound"]),
                      when(g["since"]), g["message"] or "")  # fmt: skip
    console.print(table)


@rules_app.command("create")
def rules_create(
    source: Source,
    replace: Annotated[bool, typer.Option(help="replace the rule of the same name")] = False,
) -> None:
    """Create a rule from JSON (see the README for the fields)."""
    try:
        definition = RuleIn.model_validate(_read(source))
    except ValidationError as exc:
        _invalid(exc)
    with session() as runtime:
        if replace and definition.name in {r["name"] for r in runtime.alerts.rules()}:
            saved = runtime.alerts.replace_rule(definition.name, definition)
        else:
            saved = runtime.alerts.create_rule(definition)
    console.print(f"rule [bold]{saved['name']}[/] saved (id {saved['id']})")


@rules_app.command("delete")
def rules_delete(ref: Ref) -> None:
    """Delete a rule (its history stays)."""
    with session() as runtime:
        runtime.alerts.delete_rule(ref)
    console.print(f"rule {ref} deleted")


@channels_app.command("list")
def channels_list() -> None:
    """Every channel; secrets show only as set or unset."""
    with session() as runtime:
        rows = runtime.alerts.channels()
    table = Table(title="alert channels", title_justify="left")
    for col in ("id", "name", "kind", "settings"):
        table.add_column(col)
    for c in rows:
        rest = {k: v for k, v in c.items() if k not in ("id", "name", "kind")}
        table.add_row(str(c["id"]), c["name"], c["kind"], show(rest))
    console.print(table)


@channels_app.command("create")
def channels_create(
    source: Source,
    replace: Annotated[bool, typer.Option(help="replace the channel of the same name")] = False,
) -> None:
    """Create a channel from JSON: {"name", "kind": "email"|"webhook"|"slack", …}."""
    try:
        definition = _CHANNEL.validate_python(_read(source))
    except ValidationError as exc:
        _invalid(exc)
    with session() as runtime:
        existing = {c["name"] for c in runtime.alerts.channels()}
        ref = definition.name if replace and definition.name in existing else None
        saved = runtime.alerts.save_channel(definition, ref)
    console.print(f"channel [bold]{saved['name']}[/] saved (id {saved['id']})")


@channels_app.command("delete")
def channels_delete(ref: Annotated[str, typer.Argument(help="the channel's id or name")]) -> None:
    """Delete a channel."""
    with session() as runtime:
        runtime.alerts.delete_channel(ref)
    console.print(f"channel {ref} deleted")


@alerts_app.command("history")
def history(
    rule: Annotated[str | None, typer.Option(help="one rule's id or name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000)] = 50,
) -> None:
    """State changes, newest first."""
    with session() as runtime:
        rows = runtime.alerts.history(rule, limit=limit)
    table = Table(title="alert history", title_justify="left")
    for col in ("at", "rule", "group", "change", "value", "bound", "message"):
        table.add_column(col)
    for h in rows:
        table.add_row(when(h["at"]), str(h["rule"]), h["group_key"] or "(all)",
                      f"{h['from_state']} → {h['to_state']}", show(h["value"]), show(h["bound"]),
                      h["message"] or "")  # fmt: skip
    console.print(table)


@alerts_app.command("preview")
def preview(ref: Ref, days: Annotated[float, typer.Option(min=0.01, max=31)] = 7.0) -> None:
    """Replay an events rule over the past days: when it would have fired and resolved."""
    with console.status(f"replaying {ref} over {days:g} days…"), session() as runtime:
        out = runtime.alerts.preview(ref, days)
    console.print(
        f"{out['evaluations']} evaluations every {out['step_s']} s from {out['from']} to "
        f"{out['to']}: fired [bold]{out['fired']}[/] time(s)"
    )
    table = Table(title="episodes", title_justify="left")
    for col in ("group", "fired at", "resolved at"):
        table.add_column(col)
    for e in out["episodes"]:
        table.add_row(e["group"] or "(all)", e["fired_at"], e["resolved_at"] or "still firing")
    console.print(table)


@alerts_app.command("test")
def test(ref: Ref) -> None:
    """Send a clearly marked test notification to each of the rule's channels."""
    with session() as runtime:
        outcomes = runtime.alerts.test(ref)
    for o in outcomes:
        colour = "green" if o["outcome"] == "sent" else "red"
        error = f": {o['error']}" if o["error"] else ""
        console.print(f"[{colour}]{o['outcome']}[/] {o['notification_id']}{error}")
    if any(o["outcome"] != "sent" for o in outcomes):
        raise typer.Exit(1)


def _duration_s(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    try:
        if text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except (ValueError, IndexError):
        fail(f"--for {text!r}: expected a duration such as 30m, 2h or 1d")


@alerts_app.command("mute")
def mute(
    ref: Ref,
    for_: Annotated[str | None, typer.Option("--for", help="e.g. 30m, 2h, 1d")] = None,
    off: Annotated[bool, typer.Option("--off", help="unmute")] = False,
) -> None:
    """Silence a rule for a while (its state is still tracked), or unmute it."""
    if off == (for_ is not None):
        fail("give --for DURATION or --off")
    until = None if off else datetime.now(UTC) + timedelta(seconds=_duration_s(str(for_)))
    with session() as runtime:
        rule = runtime.alerts.mute(ref, until)
    console.print(f"rule {rule['name']}: " + (f"muted until {when(rule['muted_until'])} UTC"
                                              if rule["muted_until"] else "unmuted"))  # fmt: skip


@alerts_app.command("evaluate")
def evaluate(ref: Ref) -> None:
    """Evaluate a rule now, due or not."""
    with session() as runtime:
        rule_id = runtime.alerts.rule(ref)["id"]
        job_id = runtime.jobs.enqueue(keys.TASK_ALERTS_EVALUATE, kwargs={"rules": [rule_id]})
    console.print(f"evaluation queued: job {job_id[0].job_id}")
