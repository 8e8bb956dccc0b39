"""Read every API request body as JSON, whatever Content-Type the client declared.

`curl -d '{...}'` sends `application/x-www-form-urlencoded`; FastAPI then refuses a JSON body
with "Input should be a valid dictionary", while /api/v1/events (which reads its body itself)
accepts it. So a body sent to the API without a JSON, NDJSON or multipart type is treated as
JSON: a JSON body works, anything else is a clear `invalid_json`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

# Types a route reads as they are (the events route parses JSON and NDJSON itself).
_KEPT = (
    b"application/json",
    b"application/x-ndjson",
    b"application/ndjson",
    b"application/jsonl",
    b"multipart/form-data",
)
_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class JsonBodies:
    """ASGI middleware: API requests with a body of another declared type become JSON."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _METHODS
            and str(scope["path"]).startswith(self.prefix)
        ):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            declared = dict(scope["headers"]).get(b"content-type", b"")
            if not declared.lower().startswith(_KEPT):
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
