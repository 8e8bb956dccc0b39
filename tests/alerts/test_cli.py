"""`tally alerts …` beside a running `tally dev`: JSON files in, tables out, one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from tests.alerts.receiver import Receiver
from tests.conftest import Proc, clean_env, free_port, run_tally, wait_http


def test_the_alerts_commands(
    tmp_path: Path, procs: Callable[..., Proc], receiver: Receiver
) -> None:
    port = free_port()
    env = clean_env(TALLY_DATA_DIR=str(tmp_path / "data"), TALLY_ANALYTICS_ON_STARTUP="false",
                    TALLY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")  # fmt: skip
    dev = procs("dev", "--port", str(port), env=env, name="dev")
    wait_http(f"http://127.0.0.1:{port}/api/v1/health", proc=dev)

    def tally(*args: str) -> tuple[int, str]:
        done = run_tally("alerts", *args, env=env, cwd=tmp_path)
        out = done.stdout + done.stderr
        assert "Traceback" not in out, out
        return done.returncode, out

    def write(name: str, body: object) -> str:
        (tmp_path / name).write_bytes(orjson.dumps(body))
        return str(tmp_path / name)

    secret_url = receiver.url("/hook-cli-S3CRET")
    channel = write("channel.json", {"name": "hook", "kind": "webhook", "url": secret_url})
    assert tally("channels", "create", channel) == (0, "channel hook saved (id 1)\n")
    rule = write("rule.json", {"name": "FR burst", "channels": ["hook"],
                               "spec": {"kind": "events", "country": "FR", "condition": "above",
                                        "bound": 100}})  # fmt: skip
    code, out = tally("rules", "create", rule)
    assert code == 0
    assert "rule FR burst saved" in out
    # Listing: the rule and its state; the channel with its URL only as "set"
    code, out = tally("rules", "list")
    assert code == 0
    assert "FR burst" in out
    assert "ok" in out
    code, out = tally("channels", "list")
    assert "url: set" in out
    assert "S3CRET" not in out
    # Muting, the history, a preview and a test notification
    code, out = tally("mute", "FR burst", "--for", "2h")
    assert code == 0
    assert "muted until" in out
    assert tally("mute", "FR burst", "--off")[1].strip() == "rule FR burst: unmuted"
    assert tally("history")[0] == 0
    code, out = tally("preview", "FR burst", "--days", "1")
    assert code == 0
    assert "evaluations every" in out
    code, out = tally("test", "FR burst")
    assert code == 0
    assert out.startswith("sent ")
    assert receiver.bodies()[0]["subject"].startswith("[TEST]")
    # Bad input: one line naming the field, nothing saved
    bad = write("bad.json", {"name": "no bound", "spec": {"kind": "events", "condition": "below"}})
    code, out = tally("rules", "create", bad)
    assert code == 1
    assert "spec.events" in out
    assert "bound" in out
    code, out = tally("rules", "create", str(tmp_path / "missing.json"))
    assert code == 1
    assert "missing.json" in out
    code, out = tally("rules", "show", "no such rule")
    assert code == 1
    assert "no alert rule" in out
    assert "no bound" not in tally("rules", "list")[1]
