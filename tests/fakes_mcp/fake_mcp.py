"""A real MCP server with deterministic tools, served on loopback for tests.

The tools are `echo(text)`, `add(a, b)`, `slow(seconds)`, `fail(message)` (raises, so the caller sees an
`isError` result), `reject(message)` (a JSON-RPC error answer instead of a result) and `headers()` (the HTTP
request headers the tool call arrived with, as JSON).

Every HTTP variant is the SDK's own ASGI app (`MCPServer.streamable_http_app()` / `sse_app()`) run by
uvicorn on `127.0.0.1` inside the test's event loop, wrapped in `Recorder`, which notes each request
(method, path, headers and JSON-RPC method) so tests can count handshakes and check headers; servers run with
`tests.fakes.servers.serve`, whose `port=` brings a server back on the same port after a restart.
The stdio variant is this very file run as a script: `python fake_mcp.py` (see `stdio_command()`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from tests.fakes.servers import serve

__all__ = [
    "FAKE_MCP_TOKEN",
    "FakeMcpServer",
    "Recorder",
    "RequestLog",
    "build_server",
    "fake_mcp",
    "fake_mcp_auth",
    "fake_mcp_sse",
    "fake_mcp_stdio",
    "fake_mcp_url",
    "requires_bearer",
    "serve_fake_mcp",
    "stdio_command",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAKE_MCP_TOKEN = "fake-mcp-token"
"""The bearer token `fake_mcp_auth` accepts."""


def build_server(events: list[str] | None = None) -> MCPServer:
    """A fresh `MCPServer` with the deterministic test tools; `slow` appends `slow:start|done|cancelled` to `events`."""
    server = MCPServer("fake-mcp", version="0.0.1")
    log = events if events is not None else []

    @server.tool()
    async def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then say done."""
        log.append("slow:start")
        outcome = "slow:cancelled"
        try:
            await anyio.sleep(seconds)
            outcome = "slow:done"
        finally:
            log.append(outcome)
        return "done"

    @server.tool()
    async def fail(message: str) -> str:
        """Always fail with the given message."""
        raise ToolError(message)

    @server.tool()
    async def reject(message: str) -> str:
        """Answer with a JSON-RPC error (invalid params) instead of a tool result."""
        raise MCPError(code=INVALID_PARAMS, message=message)

    @server.tool()
    async def headers(ctx: Context) -> str:
        """The HTTP request headers of this call, as a JSON object (`{}` on stdio)."""
        return json.dumps(dict(ctx.headers or {}))

    return server


@dataclass(slots=True)
class RequestLog:
    """One HTTP request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    rpc_methods: list[str]


@dataclass(slots=True)
class Recorder:
    """ASGI middleware that records every HTTP request, then passes it on unchanged."""

    app: ASGIApp
    legacy: bool = False
    """Answer `server/discover` with "method not found", as a server from before the 2026 protocol does."""
    requests: list[RequestLog] = field(default_factory=list)

    @property
    def handshakes(self) -> int:
        """How many client sessions were opened: `initialize` requests (legacy) or `server/discover` probes."""
        opening = "initialize" if self.legacy else "server/discover"
        return self.rpc_methods().count(opening)

    def rpc_methods(self) -> list[str]:
        """Every JSON-RPC method received, in order."""
        return [method for log in self.requests for method in log.rpc_methods]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record the request (buffering a POST body to read its JSON-RPC method) and forward it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        log = RequestLog(method=scope["method"], path=scope["path"], headers=headers, rpc_methods=[])
        self.requests.append(log)
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        log.rpc_methods = _rpc_methods(body)
        if self.legacy and "server/discover" in log.rpc_methods:
            await _method_not_found(body, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _method_not_found(body: bytes, send: Send) -> None:
    request_id = json.loads(body).get("id")
    payload = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "Method not found"}})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload.encode()})


def _rpc_methods(body: bytes) -> list[str]:
    try:
        payload = json.loads(body)
    except ValueError:
        return []
    items = payload if isinstance(payload, list) else [payload]
    return [item["method"] for item in items if isinstance(item, dict) and isinstance(item.get("method"), str)]


def requires_bearer(app: ASGIApp, token: str, *, resource_metadata: str) -> ASGIApp:
    """Wrap `app` so that HTTP requests without `Authorization: Bearer <token>` get 401 + `WWW-Authenticate`."""
    expected = f"Bearer {token}".encode()
    challenge = f'Bearer resource_metadata="{resource_metadata}"'.encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            body = b'{"error":"invalid_token"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", challenge),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return guarded


@dataclass(slots=True)
class FakeMcpServer:
    """A running fake: where to reach it and what it has seen."""

    base_url: str
    url: str
    """The MCP endpoint: `<base>/mcp` (streamable HTTP) or `<base>/sse` (SSE)."""
    recorder: Recorder
    events: list[str]
    """What the `slow` tool did (`slow:start`, `slow:done`, `slow:cancelled`)."""

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return int(self.base_url.rsplit(":", 1)[1])


@asynccontextmanager
async def serve_fake_mcp(
    *,
    transport: str = "streamable_http",
    port: int = 0,
    bearer_token: str | None = None,
    legacy: bool = False,
) -> AsyncIterator[FakeMcpServer]:
    """Serve a fresh fake MCP server over `transport` ("streamable_http" or "sse").

    Args:
        transport: "streamable_http" (endpoint `/mcp`) or "sse" (endpoint `/sse`).
        port: 0 for a free port, or the port of an earlier run to simulate a restart.
        bearer_token: when set, requests without `Authorization: Bearer <token>` get 401.
        legacy: refuse the 2026 `server/discover` probe, so clients fall back to the stateful
            `initialize` handshake (a session id, a GET stream, a DELETE on close).
    """
    events: list[str] = []
    server = build_server(events)
    if transport == "sse":
        app: ASGIApp = server.sse_app()
        path = "/sse"
    else:
        app = server.streamable_http_app()
        path = "/mcp"
    recorder = Recorder(app, legacy=legacy)
    outer: ASGIApp = recorder
    if bearer_token is not None:
        outer = requires_bearer(
            recorder, bearer_token, resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource"
        )
    async with serve(outer, port=port, grace_s=1) as base:  # a hard stop, as a crash would be
        yield FakeMcpServer(base_url=base, url=f"{base}{path}", recorder=recorder, events=events)


@pytest.fixture
async def fake_mcp() -> AsyncIterator[FakeMcpServer]:
    """A fake MCP server over streamable HTTP on loopback."""
    async with serve_fake_mcp() as server:
        yield server


@pytest.fixture
def fake_mcp_url(fake_mcp: FakeMcpServer) -> str:
    """The streamable HTTP endpoint (`http://127.0.0.1:PORT/mcp`) of `fake_mcp`."""
    return fake_mcp.url


@pytest.fixture
async def fake_mcp_sse() -> AsyncIterator[FakeMcpServer]:
    """A fake MCP server over the legacy SSE transport (endpoint `/sse`)."""
    async with serve_fake_mcp(transport="sse") as server:
        yield server


@pytest.fixture
async def fake_mcp_auth() -> AsyncIterator[FakeMcpServer]:
    """A fake MCP server that wants `Authorization: Bearer <FAKE_MCP_TOKEN>` (401 + `WWW-Authenticate` otherwise)."""
    async with serve_fake_mcp(bearer_token=FAKE_MCP_TOKEN) as server:
        yield server


@pytest.fixture
def fake_mcp_stdio() -> tuple[str, list[str]]:
    """Command and arguments that start the fake MCP server over stdio."""
    return stdio_command()


def stdio_command() -> tuple[str, list[str]]:
    """The command and arguments that run this fake over stdio."""
    return sys.executable, [__file__]


if __name__ == "__main__":
    build_server().run("stdio")
