"""Data components and artifacts over both chat endpoints: real uvicorn, the AI SDK's parser, the `openai` SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.components.docs import (
    components_doc,
    envelope,
    needs_ai,
    parse_with_ai_sdk,
    pieces,
    text_item,
    ticket_item,
)
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import mcp_tool, push

BASE = "/tenants/t1/projects/p1/graphs/g"
UI_CHAT = f"{BASE}/api/chat"
ANSWER = envelope(text_item("I opened a ticket."), ticket_item(), text_item("Anything else?", "t2"))
TICKET_DATA = {
    "id": "tk1",
    "name": "TicketCard",
    "props": {"ticketId": "T-42", "priority": "high", "subject": "Refund"},
}
FULL = {"title": "Refund policy", "url": "https://docs.example.test/refunds", "body": "Refunds within 30 days."}
SUMMARY = {"title": "Refund policy", "url": "https://docs.example.test/refunds"}
INVALID = envelope(text_item("Opening."), ticket_item("urgent"))
FAILURE = (
    "Agent 'support' answered with invalid data components, also after one corrected retry: Item 2 (TicketCard) "
    "has invalid props: at '/priority': 'urgent' is not one of ['low', 'normal', 'high']."
)


@pytest.fixture
def backend() -> str:
    """The wire is what is tested here; the executor tests cover both databases."""
    return "sqlite"


def _ui_body(text: str, chat_id: str = "chat-1") -> dict[str, Any]:
    return {
        "id": chat_id,
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
    }


@asynccontextmanager
async def _server(store: Store) -> AsyncIterator[str]:
    url = store.engine.url.render_as_string(hide_password=False)
    async with serve(create_app(Settings(database_url=url, dev=True))) as base_url:
        yield base_url


async def _ui_stream(base_url: str, text: str, chat_id: str = "chat-1") -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post(UI_CHAT, json=_ui_body(text, chat_id))
    assert response.status_code == 200, response.text
    return response.text


def _openai(base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{base_url}{BASE}/v1", api_key="unused-in-dev", max_retries=0, _strict_response_validation=True
    )


async def _openai_contents(base_url: str, *, emit_operations: bool) -> list[str]:
    client = _openai(base_url)
    headers = {"x-emit-operations": "true"} if emit_operations else {}
    stream = await client.chat.completions.create(
        model="any", stream=True, messages=[{"role": "user", "content": "refund please"}], extra_headers=headers
    )
    contents = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    await client.close()
    return [content for content in contents if content]


async def _drain(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="any", stream=True, messages=[{"role": "user", "content": "refund please"}]
    )
    async for _chunk in stream:
        pass


@needs_ai
async def test_ai_sdk_assembles_text_and_the_component_in_order(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    fake_llm.add(Turn.text(pieces(ANSWER)))
    async with _server(store) as base_url:
        body = await _ui_stream(base_url, "refund please")
    result = await parse_with_ai_sdk(body)
    parts = [part for part in result["message"]["parts"] if part["type"] != "step-start"]
    assert parts == [
        {"type": "text", "text": "I opened a ticket.", "state": "done"},
        {"type": "data-component", "id": "tk1", "data": TICKET_DATA},
        {"type": "text", "text": "\n\nAnything else?", "state": "done"},
    ]
    frames = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    component = next(i for i, frame in enumerate(frames) if frame["type"] == "data-component")
    later = [frame.get("delta") for frame in frames[component:] if frame["type"] == "text-delta"]
    assert "".join(later) == "\n\nAnything else?", "the component comes before the later text"


async def test_openai_clients_see_the_component_only_with_emit_operations(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    fake_llm.add(Turn.text(pieces(ANSWER)), Turn.text(pieces(ANSWER)))
    async with _server(store) as base_url:
        with_operations = await _openai_contents(base_url, emit_operations=True)
        plain = await _openai_contents(base_url, emit_operations=False)
    component = json.dumps({"type": "data-component", "data": TICKET_DATA}, separators=(",", ":"))
    assert component in with_operations
    position = with_operations.index(component)
    assert "".join(c for c in with_operations[:position] if not c.startswith("{")) == "I opened a ticket."
    assert "".join(c for c in with_operations[position + 1 :] if not c.startswith("{")) == "\n\nAnything else?"
    assert "".join(plain) == "I opened a ticket.\n\nAnything else?"


@needs_ai
async def test_invalid_twice_is_an_error_part_on_api_chat(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    fake_llm.add(Turn.text(INVALID), Turn.text(INVALID))
    async with _server(store) as base_url:
        body = await _ui_stream(base_url, "refund please")
    result = await parse_with_ai_sdk(body)
    assert result["errors"] == [FAILURE]
    assert result["types"][-2:] == ["error", "finish"]
    frames = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    assert {"type": "error", "errorText": FAILURE} in frames


async def test_invalid_twice_is_an_error_event_for_openai_clients(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    fake_llm.add(Turn.text(INVALID), Turn.text(INVALID))
    async with _server(store) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "refund please"}]}
        response = await http.post(f"{BASE}/v1/chat/completions", json=body)
        client = _openai(base_url)
        fake_llm.add(Turn.text(INVALID), Turn.text(INVALID))
        with pytest.raises(openai.APIError) as caught:
            await _drain(client)
        await client.close()
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[-2]) == {
        "error": {"message": FAILURE, "type": "server_error", "param": None, "code": "invalid_model_output"}
    }
    assert events[-1] == "[DONE]"
    assert caught.value.message == FAILURE


def _artifact_doc(base_url: str, mcp_url: str) -> dict[str, Any]:
    return components_doc(
        base_url,
        servers={"tools": mcp_tool(mcp_url)},
        tools=["tools"],
        dataComponents=[],
        artifactComponents=["citation"],
    )


def _save_turns() -> list[Turn]:
    save = {"toolCallId": "c1", "type": "Citation", "name": "Refund policy", "summary": SUMMARY}
    return [
        Turn.tool_calls([("c1", "echo", {"text": json.dumps(FULL)})]),
        Turn.tool_calls([("s1", "save_artifact", save)]),
        Turn.text("Refunds within 30 days."),
    ]


@needs_ai
async def test_artifact_streams_its_summary_and_survives_an_app_restart(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(store, tmp_path, _artifact_doc(fake_llm.base_url, fake_mcp.url))
    fake_llm.add(*_save_turns())
    async with _server(store) as base_url:
        first = await parse_with_ai_sdk(await _ui_stream(base_url, "find the refund policy", "chat-a"))
    artifact = next(part for part in first["message"]["parts"] if part["type"] == "data-artifact")
    artifact_id = artifact["id"]
    assert artifact["data"] == {
        "artifactId": artifact_id,
        "toolCallId": "c1",
        "name": "Refund policy",
        "description": "",
        "type": "Citation",
        "artifactSummary": SUMMARY,
    }
    assert "body" not in json.dumps(artifact), "the full data never streams"

    fake_llm.add(
        Turn.tool_calls([("r1", "get_reference_artifact", {"artifactId": artifact_id})]),
        Turn.text("It says refunds within 30 days."),
    )
    async with _server(store) as base_url:  # a new app process on the same database file
        second = await parse_with_ai_sdk(await _ui_stream(base_url, "what did it say?", "chat-a"))
    assert json.loads(fake_llm.requests[4].messages[-1]["content"])["full"] == FULL
    assert second["message"]["parts"][-1] == {
        "type": "text",
        "text": "It says refunds within 30 days.",
        "state": "done",
    }


async def test_openai_clients_see_the_artifact_with_emit_operations(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(store, tmp_path, _artifact_doc(fake_llm.base_url, fake_mcp.url))
    fake_llm.add(*_save_turns())
    async with _server(store) as base_url:
        contents = await _openai_contents(base_url, emit_operations=True)
    artifacts = [json.loads(c) for c in contents if c.startswith('{"type":"data-artifact"')]
    assert len(artifacts) == 1
    assert artifacts[0]["data"]["artifactSummary"] == SUMMARY
    assert artifacts[0]["data"]["toolCallId"] == "c1"
    assert "Refunds within 30 days." in "".join(c for c in contents if not c.startswith("{"))
