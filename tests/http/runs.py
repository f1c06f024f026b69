"""A scripted `Runner` and helpers for the run-API route tests (the real executor is tested elsewhere).

`ScriptedRunner` records what the routes asked of it and yields a fixed list of events; it can fail in
`prepare`, raise in the middle of its stream, or block forever (for disconnect tests), and it notes how
and when its stream was stopped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette

from inkeep_runtime import Settings, create_app
from inkeep_runtime.events import (
    Problem,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    Usage,
)
from inkeep_runtime.graph.contract import PreparedRun, RunTarget
from inkeep_runtime.llm.client import LLMChunk, LLMRequest
from inkeep_runtime.protocols.requests import RunRequest
from inkeep_runtime.store.engine import Store
from tests.conftest import running_lifespan
from tests.fakes.servers import serve

__all__ = [
    "CHAT",
    "GRAPH",
    "TEXT_RUN",
    "UI_CHAT",
    "NoLLM",
    "ScriptedRunner",
    "create_api_key",
    "create_graphs",
    "failed",
    "make_app",
    "run_client",
    "served_client",
    "sse_payloads",
]

GRAPH = "/tenants/t1/projects/p1/graphs/g1"
CHAT = f"{GRAPH}/v1/chat/completions"
UI_CHAT = f"{GRAPH}/api/chat"
CRUD = "/tenants/t1/crud/projects/p1"


def _started(agent_id: str = "router", model: str = "") -> RunStarted:
    # run and conversation ids are filled in by ScriptedRunner from the prepared run
    return RunStarted(run_id="", conversation_id="", graph_id="g1", agent_id=agent_id, model=model)


TEXT_RUN: list[RunEvent] = [
    _started(),
    StepStarted(agent_id="router", step=1),
    TextDelta(agent_id="router", text="Hel"),
    TextDelta(agent_id="router", text="lo"),
    StepFinished(agent_id="router", step=1),
    Usage(input_tokens=3, output_tokens=2),
    RunCompleted(),
]
"""A run answering "Hello"."""


def failed(status: int = 502, code: str = "llm_error", detail: str = "The model provider failed.") -> list[RunEvent]:
    """A run that starts, says a little, then fails with a problem."""
    problem = Problem(code=code, title="Bad Gateway", status=status, detail=detail)
    return [_started(), TextDelta(agent_id="router", text="Hel"), RunFailed(problem=problem)]


class ScriptedRunner:
    """A `Runner` yielding scripted events.

    Args:
        events: what `stream` yields (RunStarted gets the prepared run's ids).
        prepare_error: raised by `prepare` instead of preparing.
        stream_error: raised by `stream` after the events.
        is_blocking: after the events, wait forever (until cancelled).
        pause_s: wait this long before the last event (so keep-alive pings can happen mid-stream).
    """

    def __init__(
        self,
        events: Sequence[RunEvent] = TEXT_RUN,
        *,
        prepare_error: Exception | None = None,
        stream_error: Exception | None = None,
        is_blocking: bool = False,
        pause_s: float = 0.0,
    ) -> None:
        self.events = list(events)
        self.prepare_error = prepare_error
        self.stream_error = stream_error
        self.is_blocking = is_blocking
        self.pause_s = pause_s
        self.requests: list[tuple[RunTarget, RunRequest]] = []
        self.blocked = asyncio.Event()
        """Set when the stream has yielded everything and is waiting forever."""
        self.stopped_by: type[BaseException] | None = None
        self.stopped_at: float | None = None
        """`time.monotonic()` when the stream saw its end (cancellation, close or error)."""

    async def prepare(self, target: RunTarget, request: RunRequest) -> PreparedRun:
        """Record the request; fail if told to."""
        self.requests.append((target, request))
        if self.prepare_error is not None:
            raise self.prepare_error
        return PreparedRun(
            target=target,
            request=request,
            conversation_id=request.conversation_id or "conv-new",
            run_id="run1",
            agent_id="router",
            is_new_conversation=request.conversation_id is None,
        )

    async def stream(self, prepared: PreparedRun) -> AsyncIterator[RunEvent]:
        """Yield the script; then raise or block if told to."""
        try:
            for index, event in enumerate(self.events):
                if self.pause_s and index == len(self.events) - 1:
                    await anyio.sleep(self.pause_s)
                if isinstance(event, RunStarted):
                    event = RunStarted(
                        run_id=prepared.run_id,
                        conversation_id=prepared.conversation_id,
                        graph_id=prepared.target.graph_id,
                        agent_id=event.agent_id,
                        model=event.model,
                    )
                yield event
            if self.stream_error is not None:
                raise self.stream_error
            if self.is_blocking:
                self.blocked.set()
                await anyio.sleep_forever()
        except BaseException as exc:  # a test double: note how the stream was stopped, then re-raise
            self.stopped_by, self.stopped_at = type(exc), time.monotonic()
            raise

    @property
    def last_request(self) -> RunRequest:
        """The most recent request passed to `prepare`."""
        return self.requests[-1][1]


class NoLLM:
    """An `LLMClient` the scripted runner never calls (so the app does not import litellm)."""

    def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:  # pragma: no cover - never called
        """Fail: the routes under test must not reach a model."""
        msg = "the run-API route tests use a scripted runner"
        raise AssertionError(msg)


def make_app(settings: Settings, store: Store, runner: ScriptedRunner) -> Starlette:
    """The app with the scripted runner and no model client."""
    return create_app(settings, store=store, runner=runner, llm=NoLLM())


async def create_graphs(client: httpx.AsyncClient) -> None:
    """Project p1 in tenant t1 with graphs g1 and g2, through the CRUD API."""
    project = {"id": "p1", "name": "P1", "description": "Run API tests"}
    response = await client.post("/tenants/t1/crud/projects", json=project)
    assert response.status_code == 201, response.text
    for graph_id in ("g1", "g2"):
        response = await client.post(f"{CRUD}/agent-graphs", json={"id": graph_id, "name": graph_id})
        assert response.status_code == 201, response.text


@asynccontextmanager
async def run_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with the app's lifespan running, and project p1 with graphs g1 and g2."""
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await create_graphs(client)
            yield client


@asynccontextmanager
async def served_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app served by real uvicorn on loopback (graphs g1 and g2 exist)."""
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        await create_graphs(client)
        yield client


async def create_api_key(client: httpx.AsyncClient, graph_id: str = "g1", **body: Any) -> str:
    """A new API key of `graph_id` in t1/p1, created through the CRUD API."""
    response = await client.post(f"{CRUD}/api-keys", json={"graphId": graph_id, **body})
    assert response.status_code == 201, response.text
    key: str = response.json()["data"]["key"]
    return key


def sse_payloads(text: str) -> list[str]:
    """The `data:` payloads of an SSE body, asserting it has nothing else (no `event:` names)."""
    payloads = []
    for block in text.split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: "), block
        assert "\n" not in block, block
        payloads.append(block.removeprefix("data: "))
    return payloads
