"""A live ClickHouse server for tests: chDB's clickhouse-local, listening on loopback.

The chdb-core wheel holds the whole clickhouse-local program (the engine Tally embeds, same
version). `chdb._chdb.query` runs it on a data directory; it reads `./config.xml`, whose
listeners serve the real HTTP and native protocols while its query runs. The query here
starts them and then sleeps (`sleepEachRow`), so the server lives for at most `lifetime_s`
and is stopped by its PID.

    python tests/clickhouse_server.py CONFIG_DIR DATA_DIR LIFETIME_S
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

CONFIG = """<clickhouse>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <users_config>users.xml</users_config>
</clickhouse>
"""
# `default` stays passwordless (the listening query runs as it); `tally` has a password.
USERS = """<clickhouse>
  <profiles><default/></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota><access_management>1</access_management>
    </default>
    <tally><password>{password}</password><networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota></tally>
  </users>
  <quotas><default/></quotas>
</clickhouse>
"""
PASSWORD = "ch-test-pw-7f3e"


class ClickHouseServer:
    """One clickhouse-local node on free loopback ports, with its own directories."""

    def __init__(self, root: Path, http_port: int, tcp_port: int, lifetime_s: int = 3600):
        self.root = root
        self.http_port = http_port
        self.tcp_port = tcp_port
        self.lifetime_s = lifetime_s
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout_s: float = 60) -> None:
        config, data = self.root / "config", self.root / "data"
        config.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        (config / "config.xml").write_text(
            CONFIG.format(http_port=self.http_port, tcp_port=self.tcp_port)
        )
        (config / "users.xml").write_text(USERS.format(password=PASSWORD))
        log = (self.root / "server.log").open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, __file__, str(config), str(data), str(self.lifetime_s)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"clickhouse-local exited: {self.log()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).text.strip() == "Ok.":
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"clickhouse-local did not answer within {timeout_s} s")

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop it by its PID (SIGKILL: it holds nothing that needs a clean shutdown here)."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


def _serve(config_dir: str, data_dir: str, lifetime_s: int) -> None:
    import chdb  # noqa: F401 - before the chdir: its import-time probe reads ./config.xml too
    from chdb import _chdb

    os.chdir(config_dir)
    _chdb.query(  # type: ignore[attr-defined]
        "SYSTEM START LISTEN QUERIES ALL; "
        f"SELECT sleepEachRow(1) FROM numbers({int(lifetime_s)}) "
        "SETTINGS max_block_size = 1 FORMAT Null",
        "TSV",
        path=data_dir,
    )


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
