"""`POST .../graphs/{g}/api/chat`: the AI SDK UI message stream, checked with the real `ai` package in Node."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from inkeep_runtime import Settings
from inkeep_runtime.errors import NotFound
from inkeep_runtime.events import (
    AgentTransferred,
    DelegationReturned,
    DelegationStarted,
    RunCompleted,
    RunEvent,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from inkeep_runtime.http import chat
from inkeep_runtime.store.engine import Store
from tests.http.runs import TEXT_RUN, UI_CHAT, ScriptedRunner, failed, make_app, run_client, served_client, sse_payloads

NODE_DIR = Path(__file__).parents[1] / "node"
needs_ai = pytest.mark.skipif(
    not (NODE_DIR / "node_modules" / "ai").is_dir() or shutil.which("node") is None,
    reason="the `ai` package is not installed: run `npm ci --no-audit --no-fund --prefix tests/node`",
)

V5_BODY = {
    "id": "chat-1",
    "trigger": "submit-message",
    "messages": [
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}], "metadata": {}},
        {"id": "a1", "role": "assistant", "parts": [{"type": "step-start"}, {"type": "text", "text": "Hello"}]},
        {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "Refund please"}]},
    ],
}
LEGACY_BODY = {
    "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Refund please"},
    ]
}

TEAM_RUN: list[RunEvent] = [
    RunStarted(run_id="", conversation_id="", graph_id="g1", agent_id="router"),
    StepStarted(agent_id="router", step=1),
    TextDelta(agent_id="router", text="Let me "),
    TextDelta(agent_id="router", text="check."),
    DelegationStarted(from_agent_id="router", to_agent_id="research", call_id="d1", message="find"),
    DelegationReturned(from_agent_id="router", to_agent_id="research", call_id="d1", result="found"),
    AgentTransferred(from_agent_id="router", to_agent_id="billing", reason="money"),
    StepFinished(agent_id="router", step=1),
    StepStarted(agent_id="billing", step=1),
    ToolCallStarted(agent_id="billing", call_id="call_1", tool_name="lookup", arguments={"q": "x"}),
    ToolCallFinished(agent_id="billing", call_id="call_1", tool_name="lookup", output={"n": 1}),
    ToolCallStarted(agent_id="billing", call_id="call_2", tool_name="charge", arguments={}),
    ToolCallFinished(agent_id="billing", call_id="call_2", tool_name="charge", output="declined", is_error=True),
    StepFinished(agent_id="billing", step=1),
    StepStarted(agent_id="billing", step=2),
    TextDelta(agent_id="billing", text="Refunded."),
    StepFinished(agent_id="billing", step=2),
    RunCompleted(),
]


@pytest.fixture
def backend() -> str:
    """The routes do not depend on the database: SQLite only."""
    return "sqlite"


@pytest.fixture
def settings() -> Settings:
    """Development mode (auth is covered by test_run_auth.py) and a small body limit."""
    return Settings(database_url="sqlite+aiosqlite:///:memory:", dev=True, max_body_bytes=4096)


@pytest.fixture
def runner() -> ScriptedRunner:
    """A runner answering "Hello"."""
    return ScriptedRunner()


@pytest.fixture
def app(settings: Settings, store: Store, runner: ScriptedRunner) -> Starlette:
    """The app under test."""
    return make_app(settings, store, runner)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client (graphs g1, g2 exist)."""
    async with run_client(app) as http:
        yield http


async def parse_with_ai_sdk(body: str) -> dict[str, Any]:
    """Feed an SSE body to `ai`'s own parser and fold; return its result line."""
    done = await anyio.run_process(["node", str(NODE_DIR / "parse_ui_stream.mjs")], input=body.encode(), check=False)
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["ok"], result["error"]
    assert result["done"]
    return result


async def _stream_from_server(app: Starlette, body: dict[str, Any]) -> tuple[httpx.Headers, str]:
    """POST to a real uvicorn server and read the stream as it arrives (no test-transport buffering)."""
    async with served_client(app) as http, http.stream("POST", UI_CHAT, json=body) as response:
        assert response.status_code == 200
        text = "".join([chunk async for chunk in response.aiter_text()])
    return response.headers, text


async def test_stream_has_the_ai_sdk_headers_and_the_conversation(client: httpx.AsyncClient) -> None:
    response = await client.post(UI_CHAT, json=V5_BODY)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["x-vercel-ai-data-stream"] == "v2"
    assert response.headers["x-conversation-id"] == "chat-1"


async def test_stream_frames(client: httpx.AsyncClient) -> None:
    response = await client.post(UI_CHAT, json=V5_BODY)
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    assert [json.loads(p) for p in payloads[:-1]] == [
        {"type": "start", "messageId": "msg_run1", "messageMetadata": {"conversationId": "chat-1"}},
        {"type": "start-step"},
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Hel"},
        {"type": "text-delta", "id": "text-1", "delta": "lo"},
        {"type": "text-end", "id": "text-1"},
        {"type": "finish-step"},
        {
            "type": "finish",
            "finishReason": "stop",
            "messageMetadata": {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}},
        },
    ]


async def test_v5_body_chat_id_is_the_conversation(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    await client.post(UI_CHAT, json=V5_BODY)
    request = runner.last_request
    assert (request.conversation_id, request.user_text) == ("chat-1", "Refund please")
    assert [(m.role, m.text) for m in request.history] == [("user", "Hi"), ("assistant", "Hello")]


async def test_conversation_id_field_wins_over_the_chat_id(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    response = await client.post(UI_CHAT, json={**V5_BODY, "conversationId": "conv-9"})
    assert response.headers["x-conversation-id"] == "conv-9"
    assert runner.last_request.conversation_id == "conv-9"


async def test_legacy_body_starts_a_new_conversation(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    response = await client.post(UI_CHAT, json=LEGACY_BODY)
    assert response.status_code == 200
    assert response.headers["x-conversation-id"] == "conv-new"
    request = runner.last_request
    assert (request.conversation_id, request.user_text, len(request.history)) == (None, "Refund please", 2)


async def test_emit_operations_header_reaches_the_run(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    await client.post(UI_CHAT, json=V5_BODY, headers={"x-emit-operations": "true"})
    assert runner.last_request.emit_operations


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{", 400, "bad_request"),
        (json.dumps({"messages": [{"role": "user"}]}).encode(), 400, "bad_request"),
        (json.dumps({"messages": [{"role": "user", "parts": "hi"}]}).encode(), 400, "bad_request"),
        (json.dumps({"id": "bad id!", "messages": V5_BODY["messages"]}).encode(), 400, "bad_request"),
        (json.dumps({"messages": [{"role": "user", "content": "x" * 5000}]}).encode(), 413, "payload_too_large"),
    ],
)
async def test_bad_bodies_are_problems_and_the_server_keeps_answering(
    runner: ScriptedRunner, client: httpx.AsyncClient, content: bytes, status: int, code: str
) -> None:
    response = await client.post(UI_CHAT, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert runner.requests == []
    assert (await client.post(UI_CHAT, json=V5_BODY)).status_code == 200


async def test_unknown_conversation_is_404_before_the_stream(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    runner.prepare_error = NotFound("Conversation 'chat-1' does not exist in graph 'g1'.")
    response = await client.post(UI_CHAT, json=V5_BODY)
    assert response.status_code == 404
    assert response.json()["detail"] == "Conversation 'chat-1' does not exist in graph 'g1'."


async def test_unexpected_exception_mid_stream_is_an_opaque_error_part(
    runner: ScriptedRunner, client: httpx.AsyncClient
) -> None:
    runner.events = TEXT_RUN[:3]
    runner.stream_error = RuntimeError("connection string postgres://admin:pw@db")
    response = await client.post(UI_CHAT, json=V5_BODY, headers={"x-request-id": "req-xyz"})
    assert response.status_code == 200
    assert "postgres://" not in response.text
    parts = [json.loads(p) for p in sse_payloads(response.text)[:-1]]
    assert parts[-2]["type"] == "error"
    assert "req-xyz" in parts[-2]["errorText"]
    assert parts[-1] == {"type": "finish", "finishReason": "error"}


# --- the real `ai` package, over a real server -----------------------------------------------------


@needs_ai
@pytest.mark.parametrize("body", [V5_BODY, LEGACY_BODY], ids=["v5", "legacy"])
async def test_ai_sdk_assembles_a_team_run(app: Starlette, runner: ScriptedRunner, body: dict[str, Any]) -> None:
    runner.events = TEAM_RUN
    headers, text = await _stream_from_server(app, body)
    assert headers["x-conversation-id"] == (runner.last_request.conversation_id or "conv-new")
    result = await parse_with_ai_sdk(text)
    parts = result["message"]["parts"]
    assert [p["type"] for p in parts] == [
        "step-start",
        "text",
        "data-operation",
        "data-operation",
        "data-operation",
        "step-start",
        "dynamic-tool",
        "dynamic-tool",
        "step-start",
        "text",
    ]
    assert [p["text"] for p in parts if p["type"] == "text"] == ["Let me check.", "Refunded."]
    tools = [(p["toolName"], p["state"]) for p in parts if p["type"] == "dynamic-tool"]
    assert tools == [("lookup", "output-available"), ("charge", "output-error")]
    assert result["errors"] == []


@needs_ai
async def test_ai_sdk_accepts_a_failed_run(app: Starlette, runner: ScriptedRunner) -> None:
    runner.events = failed(detail="The model provider failed.")
    _, text = await _stream_from_server(app, V5_BODY)
    result = await parse_with_ai_sdk(text)
    assert result["errors"] == ["The model provider failed."]
    assert result["types"][-1] == "finish"


@needs_ai
async def test_ai_sdk_accepts_an_exception_mid_stream(app: Starlette, runner: ScriptedRunner) -> None:
    runner.events = TEXT_RUN[:4]
    runner.stream_error = RuntimeError("boom")
    _, text = await _stream_from_server(app, V5_BODY)
    result = await parse_with_ai_sdk(text)
    assert len(result["errors"]) == 1
    assert "boom" not in result["errors"][0]
    assert [p["text"] for p in result["message"]["parts"] if p["type"] == "text"] == ["Hello"]


@needs_ai
async def test_ai_sdk_ignores_keep_alive_pings(
    runner: ScriptedRunner, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat, "PING_INTERVAL_S", 0.02)
    runner.pause_s = 0.15
    text = (await client.post(UI_CHAT, json=V5_BODY)).text
    assert ": ping" in text
    result = await parse_with_ai_sdk(text)
    assert [p["text"] for p in result["message"]["parts"] if p["type"] == "text"] == ["Hello"]
