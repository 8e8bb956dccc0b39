"""`tally up`'s processes: the plan from the settings, supervisord's config, its control.

supervisord (not a process manager of our own) starts each process, restarts one that
crashes, and stops them all by PID; `tally up` writes its config into the data
directory and talks to it over a Unix socket only the owner can open.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from tally import keys
from tally.errors import ConfigError
from tally.settings import Mode, Settings

# A Unix socket's path is limited to 108 bytes by the kernel (107 and the NUL).
SOCKET_PATH_MAX = 100


@dataclass(frozen=True)
class Program:
    """One supervised process: its name, `tally`'s arguments, and what it is."""

    name: str
    args: tuple[str, ...]
    role: str


@dataclass(frozen=True)
class Plan:
    """What `tally up` runs, and why some roles are not run as their own process."""

    programs: tuple[Program, ...]
    notes: tuple[str, ...]


class NotUp(ConfigError):
    """No `tally up` answers for this data directory."""


def plan(settings: Settings, *, hostname: str | None = None) -> Plan:
    """The processes for these settings (seed 001's start-all, one worker per queue)."""
    host = hostname or socket.gethostname()
    if settings.mode is Mode.EMBEDDED:
        dev = Program("dev", ("dev",), "API, worker and scheduler in one process")
        return Plan((dev,), ("no REDIS_URL: embedded mode is one process, `tally dev`",))
    notes: list[str] = []
    programs = [Program("api", ("api",), "REST API, dashboard and /metrics")]
    conc = settings.processes.concurrency
    if settings.store.kind == "chdb":
        # chDB is a library with one owner process: every queue's jobs run in that worker.
        total = sum(conc(q) for q in keys.QUEUES)
        args = ("worker", "-Q", ",".join(keys.QUEUES), "-c", str(total), "--no-burst",
                "--name", f"all@{host}")  # fmt: skip
        programs.append(Program("worker", args, "every queue: the embedded store's owner"))
        notes.append(
            "the embedded chDB store has one owner process, so one worker runs every queue "
            f"at {total} jobs at once; set CLICKHOUSE_URL for a worker per queue"
        )
    else:
        for queue in keys.QUEUES:
            args = ("worker", "-Q", queue, "-c", str(conc(queue)), "--no-burst",
                    "--name", f"{queue}@{host}")  # fmt: skip
            programs.append(Program(f"worker-{queue}", args, f"the {queue} queue"))
    programs.append(Program("beat", ("beat",), "the scheduler"))
    if settings.flower.password.get_secret_value():
        port = str(settings.flower.port)
        programs.append(Program("flower", ("flower", "--port", port), f"Flower on :{port}"))
    else:
        notes.append("Flower not started: set TALLY_FLOWER_PASSWORD (and TALLY_FLOWER_USER)")
    if settings.processes.prometheus_port is not None:
        port = str(settings.processes.prometheus_port)
        programs.append(Program("metrics", ("metrics", "--port", port), f"metrics on :{port}"))
    return Plan(tuple(programs), tuple(notes))


@dataclass(frozen=True)
class Place:
    """Where one `tally up` keeps its config, socket, pid file and logs."""

    root: Path

    @classmethod
    def of(cls, settings: Settings) -> Place:
        """The place under the settings' data directory."""
        return cls(settings.data_dir.resolve() / "up")

    @property
    def config(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.root / "supervisor.sock"

    @property
    def pidfile(self) -> Path:
        return self.root / "supervisord.pid"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def _value(text: str) -> str:
    return text.replace("%", "%%")  # supervisord expands %(name)s in every value


def config_text(place: Place, programs: tuple[Program, ...], *, stop_wait_s: int) -> str:
    """supervisord's config: the socket, the daemon, and one section per program."""
    python = _value(sys.executable)
    lines = [
        "[unix_http_server]", f"file={_value(str(place.socket))}", "chmod=0700", "",
        "[supervisord]", f"logfile={_value(str(place.root / 'supervisord.log'))}",
        f"pidfile={_value(str(place.pidfile))}", f"childlogdir={_value(str(place.logs))}",
        f"directory={_value(os.getcwd())}", "identifier=tally", "nodaemon=false", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{_value(str(place.socket))}", "",
    ]  # fmt: skip
    for program in programs:
        command = " ".join([python, "-m", "tally.cli.main", *program.args])
        log = _value(str(place.logs / f"{program.name}.log"))
        lines += [
            f"[program:{program.name}]", f"command={command}", "autostart=true",
            "autorestart=true", "startsecs=2", "startretries=5", "stopsignal=TERM",
            f"stopwaitsecs={stop_wait_s}", "stopasgroup=true", "killasgroup=true",
            "redirect_stderr=true", f"stdout_logfile={log}", "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=3", "",
        ]  # fmt: skip
    return "\n".join(lines)


class Supervisor:
    """The control side of one `tally up`: start, status, shutdown."""

    def __init__(self, place: Place) -> None:
        self.place = place

    def _proxy(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.place.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _call(self, method: str, *args: Any) -> Any:
        # The one boundary where supervisord's errors become ours.
        try:
            return getattr(self._proxy().supervisor, method)(*args)
        except (OSError, xmlrpc.client.ProtocolError) as exc:
            raise NotUp(f"`tally up` is not running for {self.place.root.parent}") from exc
        except xmlrpc.client.Fault as exc:
            raise ConfigError(f"supervisord refused {method}: {exc.faultString}") from None

    def running(self) -> bool:
        """True when a supervisord answers on this place's socket."""
        try:
            self._call("getPID")
        except NotUp:
            return False
        return True

    def start(self, config: str) -> None:
        """Write the config and start supervisord (it detaches once its socket is up)."""
        if len(str(self.place.socket)) > SOCKET_PATH_MAX:
            raise ConfigError(f"TALLY_DATA_DIR: {self.place.socket} is too long for a socket")
        self.place.logs.mkdir(parents=True, exist_ok=True)
        self.place.root.chmod(0o700)
        self.place.config.write_text(config)
        done = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.place.config)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            first = (done.stderr or done.stdout).strip().splitlines()
            raise ConfigError(f"supervisord did not start: {first[-1] if first else done}")

    def processes(self) -> list[dict[str, Any]]:
        """Each program: name, state, pid, uptime_s, exit status, log file."""
        now = time.time()
        out = []
        for info in self._call("getAllProcessInfo"):
            up = info["statename"] == "RUNNING"
            out.append({
                "name": info["name"], "state": info["statename"].lower(),
                "pid": info["pid"] or None, "uptime_s": round(now - info["start"]) if up else 0,
                "exit_status": info["exitstatus"], "log": info["stdout_logfile"],
            })  # fmt: skip
        return out

    def shutdown(self, timeout_s: float) -> list[int]:
        """Stop every program, then supervisord; return the PIDs that had to be killed."""
        children = [p["pid"] for p in self.processes() if p["pid"]]
        daemon = int(self._call("getPID"))
        self._call("shutdown")
        deadline = time.monotonic() + timeout_s
        while _alive(daemon) and time.monotonic() < deadline:
            time.sleep(0.2)
        killed = []
        for pid in [daemon, *children]:
            if _alive(pid):
                os.kill(pid, 9)
                killed.append(pid)
        return killed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True
