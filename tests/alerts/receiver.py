"""Real local receivers: an HTTP server that records requests, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from tests.conftest import free_port


@dataclass
class Request:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 200  # what the receiver answered

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on a free loopback port; `fail_next` answers 500 to that many requests."""

    fail_next: int = 0
    status: int = 200
    redirect_to: str | None = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(size)
                with owner._lock:
                    failing = owner.fail_next > 0
                    owner.fail_next -= int(failing)
                    status = 307 if owner.redirect_to else (500 if failing else owner.status)
                    owner.requests.append(Request(self.path, dict(self.headers), body, status))
                self.send_response(status)
                if owner.redirect_to is not None:
                    self.send_header("Location", owner.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.json() for r in self.requests]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Keep:
    def __init__(self, messages: list[Envelope], refuse: list[int]) -> None:
        self.messages = messages
        self.refuse = refuse  # [n]: answer the next n messages "451" (try again later)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        if self.refuse[0] > 0:
            self.refuse[0] -= 1
            return "451 4.3.0 try again later"
        self.messages.append(envelope)
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a free loopback port; with `user`, it requires that login (no TLS here)."""

    def __init__(
        self, user: str | None = None, password: str | None = None, *, refuse_first: int = 0
    ) -> None:
        self.messages: list[Envelope] = []
        self.refusing = [refuse_first]
        self.port = free_port()
        self.logins: list[str] = []

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         auth_data: Any) -> AuthResult:  # fmt: skip
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            if ok:
                self.logins.append(user or "")
            return AuthResult(success=ok, handled=False)

        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs = {"authenticator": authenticate, "auth_required": True,
                      "auth_require_tls": False}  # fmt: skip
        handler = _Keep(self.messages, self.refusing)
        self._controller = Controller(handler, hostname="127.0.0.1", port=self.port,
                                      **kwargs)  # fmt: skip
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
