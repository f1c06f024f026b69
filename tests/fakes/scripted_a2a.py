"""A scripted A2A peer for client tests: a card (or none) and one reply per JSON-RPC post, on loopback.

```python
async with running(Peer(card=card("1.0"), replies=[status(503), rpc(TASK_1_0)])) as peer:
    answer = await client().send_message(remote(peer), "hi")
```
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from inkeep_runtime.a2a.client import A2AClient, RemoteAgent
from tests.fakes.servers import serve

__all__ = ["MESSAGE_0_3", "TASK_1_0", "Peer", "Reply", "card", "client", "remote", "rpc", "running", "status"]

TASK_1_0 = {
    "task": {
        "id": "task-1",
        "contextId": "ctx-1",
        "status": {"state": "TASK_STATE_COMPLETED"},
        "artifacts": [{"artifactId": "a1", "parts": [{"text": "Forty-two."}, {"data": {"answer": 42}}]}],
    }
}
MESSAGE_0_3 = {
    "kind": "message",
    "messageId": "m1",
    "role": "agent",
    "contextId": "ctx-2",
    "parts": [{"kind": "text", "text": "Hello from 0.3."}],
}

Reply = Callable[[dict[str, Any]], Response]


def rpc(result: Any) -> Reply:
    """A JSON-RPC success answering the request's id."""
    return lambda body: JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})


def status(code: int, **headers: str) -> Reply:
    return lambda _body: JSONResponse({"error": "scripted"}, status_code=code, headers=headers)


@dataclass(eq=False)
class Peer:
    """A scripted A2A peer: a card (or none) and one reply per JSON-RPC post, in order."""

    card: dict[str, Any] | None = None
    card_path: str = "/.well-known/agent-card.json"
    replies: list[Reply] = field(default_factory=list)
    delay_s: float = 0.0
    base_url: str = ""
    seen: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """(method, path, JSON body or {}) of each request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        request = Request(scope, receive)
        body = await request.json() if scope["method"] == "POST" else {}
        self.seen.append((scope["method"], scope["path"], body))
        if self.delay_s:
            await anyio.sleep(self.delay_s)
        response: Response
        if scope["method"] == "GET":
            found = self.card is not None and scope["path"] == self.card_path
            card = json.loads(json.dumps(self.card).replace("BASE", self.base_url)) if found else None
            response = JSONResponse(card) if found else Response(status_code=404)
        else:
            response = self.replies.pop(0)(body) if self.replies else Response("no reply left", status_code=500)
        await response(scope, receive, send)

    def posts(self) -> list[dict[str, Any]]:
        return [body for method, _, body in self.seen if method == "POST"]


def card(version: str = "1.0", path: str = "/rpc") -> dict[str, Any]:
    """A 1.0 card (one interface) or a legacy 0.3 card; `BASE` becomes the peer's base URL."""
    if version == "1.0":
        interface = {"url": f"BASE{path}", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        return {"name": "peer", "supportedInterfaces": [interface], "capabilities": {"streaming": True}}
    return {"name": "peer", "url": f"BASE{path}", "protocolVersion": "0.3.0", "capabilities": {}}


@asynccontextmanager
async def running(peer: Peer) -> AsyncIterator[Peer]:
    async with serve(peer) as base_url:
        peer.base_url = base_url
        yield peer


def client(**options: Any) -> A2AClient:
    return A2AClient(**{"timeout_s": 5.0, "retry_base_s": 0.01, "max_attempts": 3, **options})


def remote(peer: Peer, base: str | None = None) -> RemoteAgent:
    return RemoteAgent(id="peer", base_url=base or peer.base_url, headers={"Authorization": "Bearer top-secret"})
