"""Approvals through both chat endpoints over real sockets: the stream pauses, a decision arrives, it goes on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import agent, graph_doc, push
from tests.http.test_api_chat import needs_ai, parse_with_ai_sdk
from tests.permissions.helpers import APPROVALS, CRUD, RUN, api_key, data_lines, ops_graph, permit

UI_BODY = {
    "id": "chat-approvals",
    "trigger": "submit-message",
    "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Please echo ship it"}]}],
}
OPENAI_BODY = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Please echo ship it"}]}

OnPause = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[None]]


@asynccontextmanager
async def _served(store: Store, **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    app = create_app(replace(Settings(), approval_poll_s=0.1, **settings), store=store)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:
        yield http, {"Authorization": f"Bearer {await api_key(http)}"}


async def _stream(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str], marker: str, on_pause: OnPause
) -> str:
    """POST and read the stream; once a line contains `marker`, call `on_pause` while the stream waits."""
    lines: list[str] = []
    async with http.stream("POST", path, json=body, headers=headers) as response:
        assert response.status_code == 200
        paused = False
        async for line in response.aiter_lines():
            lines.append(line)
            if not paused and marker in line:
                paused = True
                await on_pause(http, headers)
    assert paused, "the stream never asked for an approval"
    return "\n".join(lines) + "\n"


def _decide(decision: str, **extra: Any) -> OnPause:
    async def on_pause(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await http.post(f"{APPROVALS}/call_ap", json={"decision": decision, **extra}, headers=headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["toolCallId"] == "call_ap"
        assert data["status"] == ("approved" if decision == "approve" else "rejected")
        assert data["resumedBy"] == ("run" if decision == "approve" else None)  # the waiting stream carries it out

    return on_pause


@pytest.fixture
async def approval_graph(store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer) -> None:
    """Agent `ops` whose `echo` needs approval; the model calls it once, then answers."""
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    await permit(store, "echo", "require_approval")
    fake_llm.add(Turn.tool_calls([("call_ap", "echo", {"text": "ship it"})]), Turn.text("Done: the echo came back."))


def _types(body: str) -> list[str]:
    return [p["type"] for p in data_lines(body) if isinstance(p, dict)]


@needs_ai
async def test_api_chat_pauses_and_resumes_with_the_tool_result_after_approval(
    store: Store, approval_graph: None, fake_llm: FakeLLM
) -> None:
    async with _served(store) as (http, headers):
        body = await _stream(http, f"{RUN}/api/chat", UI_BODY, headers, "tool-approval-request", _decide("approve"))
    types = _types(body)
    tool_types = [t for t in types if t.startswith("tool-")]
    assert tool_types == ["tool-input-start", "tool-input-available", "tool-approval-request", "tool-output-available"]
    request = next(p for p in data_lines(body) if isinstance(p, dict) and p["type"] == "tool-approval-request")
    assert request["toolCallId"] == "call_ap"
    assert request["approvalDescriptor"]["toolName"] == "echo"
    resolved = next(p for p in data_lines(body) if isinstance(p, dict) and p["type"] == "data-operation")
    assert resolved["data"]["type"] == "approval_resolved"
    assert resolved["data"]["details"]["data"]["decision"] == "approved"
    assert fake_llm.requests[1].messages[-1]["content"] == "ship it"
    parsed = await parse_with_ai_sdk(body)
    part = next(p for p in parsed["message"]["parts"] if p["type"] == "dynamic-tool")
    assert (part["state"], part["output"], part["approval"]["id"]) == (
        "output-available",
        "ship it",
        request["approvalId"],
    )


@needs_ai
async def test_api_chat_rejection_denies_the_call_and_the_model_reads_the_reason(
    store: Store, approval_graph: None, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    async with _served(store) as (http, headers):
        pause = _decide("reject", reason="Not on a Friday.")
        body = await _stream(http, f"{RUN}/api/chat", UI_BODY, headers, "tool-approval-request", pause)
    types = _types(body)
    assert "tool-output-denied" in types
    assert "tool-output-error" not in types
    assert "tool-output-available" not in types
    tool_message = fake_llm.requests[1].messages[-1]["content"]
    assert "approval_rejected" in tool_message
    assert "Not on a Friday." in tool_message
    assert not [m for r in fake_mcp.recorder.requests for m in r.rpc_methods if m == "tools/call"]
    parsed = await parse_with_ai_sdk(body)
    part = next(p for p in parsed["message"]["parts"] if p["type"] == "dynamic-tool")
    assert part["state"] == "output-denied"
    assert "Done: the echo came back." in json.dumps(parsed["message"])


async def test_openai_stream_emits_operations_and_expires_without_a_decision(
    store: Store, approval_graph: None, fake_llm: FakeLLM
) -> None:
    async def watch(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        listed = (await http.get(f"{CRUD}/tool-approvals", params={"status": "pending"})).json()["data"]
        assert [(a["toolCallId"], a["toolName"], a["arguments"], a["runWaiting"]) for a in listed] == [
            ("call_ap", "echo", {"text": "ship it"}, True)
        ]

    headers_extra = {"x-emit-operations": "true"}
    async with _served(store, approval_timeout_s=0.6) as (http, headers):
        body = await _stream(
            http, f"{RUN}/v1/chat/completions", OPENAI_BODY, {**headers, **headers_extra}, "approval_requested", watch
        )
        listed = (await http.get(f"{CRUD}/tool-approvals")).json()
    contents = [
        json.loads(p["choices"][0]["delta"]["content"])
        for p in data_lines(body)
        if isinstance(p, dict) and p.get("choices") and (p["choices"][0]["delta"].get("content") or "").startswith("{")
    ]
    operations = [c["data"] for c in contents if c["type"] == "data-operation"]
    kinds = [o["type"] for o in operations]
    assert kinds[kinds.index("tool_call") :][:3] == ["tool_call", "approval_requested", "approval_resolved"]
    requested = operations[kinds.index("approval_requested")]["details"]["data"]
    assert (requested["toolCallId"], requested["toolName"], requested["args"]) == (
        "call_ap",
        "echo",
        {"text": "ship it"},
    )
    assert operations[kinds.index("approval_resolved")]["details"]["data"]["decision"] == "expired"
    assert "approval_rejected" in fake_llm.requests[1].messages[-1]["content"]
    assert [(a["status"], a["runWaiting"]) for a in listed["data"]] == [("expired", False)]
    assert listed["pagination"] == {"limit": 20, "nextCursor": None, "hasNext": False}


async def test_openai_stream_resumes_after_approval(store: Store, approval_graph: None, fake_llm: FakeLLM) -> None:
    async with _served(store) as (http, headers):
        body = await _stream(
            http,
            f"{RUN}/v1/chat/completions",
            OPENAI_BODY,
            {**headers, "x-emit-operations": "true"},
            "approval_requested",
            _decide("approve"),
        )
    assert "tool_result" in body
    assert fake_llm.requests[1].messages[-1]["content"] == "ship it"
    assert data_lines(body)[-1] == "[DONE]"


async def test_approval_endpoint_auth_and_conflicts(
    store: Store, tmp_path: Path, approval_graph: None, fake_llm: FakeLLM
) -> None:
    other = graph_doc(fake_llm.base_url, [agent("other")], id="g2")
    await push(store, tmp_path, other)

    async def probe(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        path = f"{APPROVALS}/call_ap"
        decision = {"decision": "approve"}
        foreign = {"Authorization": f"Bearer {await api_key(http, 'g2')}"}
        assert (await http.post(path, json=decision)).status_code == 401
        assert (await http.post(path, json=decision, headers={"Authorization": "Bearer nonsense"})).status_code == 401
        assert (await http.post(path, json=decision, headers=foreign)).status_code == 401
        unknown = await http.post(f"{APPROVALS}/call_zz", json=decision, headers=headers)
        assert unknown.status_code == 404
        assert (await http.post(f"{APPROVALS}/call_zz", json=decision, headers=foreign)).status_code == 404
        bad = await http.post(path, json={"decision": "maybe"}, headers=headers)
        assert bad.status_code == 400
        assert "/decision" in bad.json()["detail"]
        assert (await http.post(path, json={"decision": "reject"}, headers=headers)).status_code == 200
        again = await http.post(path, json=decision, headers=headers)
        assert again.status_code == 409
        assert again.json()["approvalStatus"] == "rejected"

    async with _served(store) as (http, headers):
        body = await _stream(http, f"{RUN}/api/chat", UI_BODY, headers, "tool-approval-request", probe)
    assert "tool-output-denied" in _types(body)


async def test_a_permission_written_through_the_api_applies_to_the_next_run(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    fake_llm.add(Turn.text("First answer here."), Turn.text("Second answer here."))
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    async with _served(store) as (http, headers):
        assert (await http.post(f"{RUN}/v1/chat/completions", json=body, headers=headers)).status_code == 200
        change = {"permissions": [{"toolId": "tools", "toolName": "echo", "mode": "disabled"}]}
        assert (await http.put(f"{CRUD}/agents/ops/tool-permissions", json=change)).status_code == 200
        assert (await http.post(f"{RUN}/v1/chat/completions", json=body, headers=headers)).status_code == 200
    assert "echo" in fake_llm.requests[0].tool_names
    assert "echo" not in fake_llm.requests[1].tool_names
