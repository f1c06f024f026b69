"""A real A2A agent for tests: the a2a-sdk 1.3.0 server (0.3 compatibility on) with a scripted executor.

The agent answers every message with a text part (`"<name> says: <message>"`) plus a data part, as a
task artifact. Middleware in front of the SDK app records each request's headers and can fail the next
JSON-RPC posts with chosen HTTP statuses, or demand a header (401 without it). The card is the SDK's
own (both a 1.0 and a 0.3 interface) or, with `versions=("0.3",)`, a 0.3-only card.

```python
async with FakeA2A(name="partner").running() as agent:   # agent.base_url
    agent.fail_next = [503]                              # the next POST gets 503 (Retry-After: 0)
```
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from a2a.helpers.proto_helpers import new_data_part, new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface, AgentSkill
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes.servers import serve

__all__ = ["FakeA2A", "Received"]


@dataclass(frozen=True, slots=True)
class Received:
    """One message the agent executed."""

    text: str
    context_id: str
    task_id: str


class _Executor(AgentExecutor):
    def __init__(self, fake: FakeA2A) -> None:
        self.fake = fake

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None
        if context.current_task is None:
            await event_queue.enqueue_event(new_task_from_user_message(context.message))
        text = context.get_user_input()
        self.fake.received.append(
            Received(text=text, context_id=context.context_id or "", task_id=context.task_id or "")
        )
        updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
        await updater.start_work()
        if self.fake.delay_s:
            await anyio.sleep(self.fake.delay_s)
        data = new_data_part({"agent": self.fake.name, "count": len(self.fake.received)})
        await updater.add_artifact([new_text_part(f"{self.fake.name} says: {text}"), data])
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:  # pragma: no cover
        """Nothing to cancel: answers are immediate."""


@dataclass(eq=False)
class FakeA2A:
    """A scripted A2A agent served by the a2a-sdk."""

    name: str = "partner"
    versions: Sequence[str] = ("1.0", "0.3")
    """Interfaces the card lists (the SDK serves the legacy 0.3 fields beside them)."""
    delay_s: float = 0.0
    """Wait this long before answering (for timeouts)."""
    fail_next: list[int] = field(default_factory=list)
    """HTTP statuses for the next JSON-RPC posts, one each (sent with `Retry-After: 0`)."""
    required_header: tuple[str, str] | None = None
    """(name, value) every JSON-RPC post must carry; 401 otherwise."""
    base_url: str = ""
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    """(method, path, headers with lower-case names) of every HTTP request."""
    received: list[Received] = field(default_factory=list)

    def posts(self) -> list[dict[str, str]]:
        """Headers of every JSON-RPC post, in order."""
        return [headers for method, _path, headers in self.requests if method == "POST"]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeA2A]:
        """Serve the agent on loopback; `base_url` is set while running."""
        card = AgentCard(
            name=self.name,
            description=f"The {self.name} agent (fake).",
            version="1.0.0",
            capabilities=AgentCapabilities(streaming=True),
            default_input_modes=["text/plain"],
            default_output_modes=["text/plain", "application/json"],
            skills=[AgentSkill(id="answer", name="Answer", description="Answers anything.", tags=["test"])],
            supported_interfaces=[
                AgentInterface(url="http://placeholder/a2a", protocol_binding="JSONRPC", protocol_version=v)
                for v in self.versions
            ],
        )

        async def with_url(served: AgentCard) -> AgentCard:
            current = AgentCard()
            current.CopyFrom(served)
            for interface in current.supported_interfaces:
                interface.url = f"{self.base_url}/a2a"
            return current

        handler = DefaultRequestHandler(agent_executor=_Executor(self), task_store=InMemoryTaskStore(), agent_card=card)
        routes = [
            *create_agent_card_routes(card, card_modifier=with_url),
            *create_jsonrpc_routes(handler, "/a2a", enable_v0_3_compat=True),
        ]
        app = _Gate(self, Starlette(routes=routes))
        async with serve(app) as base_url:
            self.base_url = base_url
            yield self


class _Gate:
    """Records requests; fails or refuses JSON-RPC posts as the fake is told to."""

    def __init__(self, fake: FakeA2A, app: ASGIApp) -> None:
        self.fake = fake
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.fake.requests.append((scope["method"], scope["path"], headers))
        if scope["method"] == "POST":
            response: Any = None
            required = self.fake.required_header
            if self.fake.fail_next:
                status = self.fake.fail_next.pop(0)
                response = JSONResponse({"error": "scripted"}, status_code=status, headers={"Retry-After": "0"})
            elif required is not None and headers.get(required[0].lower()) != required[1]:
                response = JSONResponse({"error": "unauthorized"}, status_code=401)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
