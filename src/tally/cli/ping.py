"""`tally ping api|worker|flower`: is this host's process alive (container health checks)."""

from __future__ import annotations

import socket
from enum import StrEnum
from typing import Annotated

import httpx
import typer

from tally.cli.common import fail, friendly_errors, load_settings
from tally.infra.redis import connect
from tally.queue.inspect import workers_seen
from tally.settings import Settings


class Role(StrEnum):
    """What to ping."""

    API = "api"
    WORKER = "worker"
    FLOWER = "flower"


def ping(
    role: Annotated[Role, typer.Argument(help="which process of this host")] = Role.API,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds")] = 5.0,
) -> None:
    """Exit 0 when this host's `role` answers: the API's port, Flower's, a worker's heartbeat."""
    settings = load_settings()
    if role is Role.WORKER:
        _worker(settings, timeout)
    else:
        port = settings.api.port if role is Role.API else settings.flower.port
        path = "/api/v1/health" if role is Role.API else "/healthcheck"
        try:
            # Any answer means alive: a 503 from health is "degraded", for the checks to say.
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=timeout)
        except httpx.HTTPError as exc:
            fail(f"{role.value} on port {port} does not answer: {type(exc).__name__}")
    typer.echo(f"{role.value}: alive")


def _worker(settings: Settings, timeout_s: float) -> None:
    url = settings.redis.url_in_force()
    if url is None:
        fail("no REDIS_URL: embedded mode has no worker of its own to ping")
    host = socket.gethostname()
    client = connect(url, timeout_s)
    try:
        with friendly_errors():
            records = workers_seen(client)
    finally:
        client.close()
    if not any(r.get("host") == host for r in records):
        fail(f"no worker of host {host} has a fresh heartbeat")
