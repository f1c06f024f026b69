"""Pure ASGI middleware: request ids and the admin token on the CRUD API.

Pure ASGI (not `BaseHTTPMiddleware`) so streaming responses pass through untouched and a client
disconnect still reaches the endpoint.
"""

from __future__ import annotations

import hmac
import json
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inkeep_runtime.errors import Unauthorized
from inkeep_runtime.http.problems import PROBLEM_CONTENT_TYPE, problem_body

__all__ = ["AdminAuthMiddleware", "RequestIdMiddleware", "is_manage_path"]


def is_manage_path(path: str) -> bool:
    """Tell whether `path` belongs to the CRUD (manage) API."""
    parts = path.split("/")
    return len(parts) > 3 and parts[1] == "tenants" and parts[3] == "crud"


class RequestIdMiddleware:
    """Give every request an id (`x-request-id`, echoed when the client sent a sane one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        is_sane = 0 < len(sent) <= 128 and sent.replace("-", "").replace("_", "").isalnum()
        request_id = sent if is_sane else f"req_{secrets.token_hex(8)}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


class AdminAuthMiddleware:
    """Require `Authorization: Bearer <admin token>` on every CRUD request when a token is configured."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._token is None or not is_manage_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, presented = header.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), self._token):
            await self.app(scope, receive, send)
            return
        detail = (
            "Missing or invalid admin token. Expected: Authorization: Bearer <INKEEP_ADMIN_TOKEN>."
            if header
            else "The CRUD API requires Authorization: Bearer <INKEEP_ADMIN_TOKEN>."
        )
        request_id = scope.get("state", {}).get("request_id", "req_unknown")
        body = json.dumps(problem_body(Unauthorized(detail), instance=scope["path"], request_id=request_id)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
