"""Done-when of issue 5: the example customer-support graph, loaded from graphs/, shows its user profile
(context config) and its SupportTicket data component in the message the AI SDK assembles."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from inkeep_runtime import Settings, create_app
from tests.components.docs import envelope, needs_ai, parse_with_ai_sdk, pieces, text_item
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve

ROOT = Path(__file__).resolve().parents[2]
UI_CHAT = "/tenants/default/projects/default/graphs/customer-support/api/chat"
QUESTION = "I was charged twice on my last invoice and need a refund"
PROFILE_URL = "http://127.0.0.1:3012"

pytestmark = needs_ai


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@asynccontextmanager
async def _runtime(tmp_path: Path, *, model: dict[str, Any] | None = None) -> AsyncIterator[str]:
    """The runtime serving graphs/ (copied, with the demo services on free ports), like `make serve`."""
    graphs = tmp_path / "graphs"
    shutil.copytree(ROOT / "graphs", graphs)
    async with AsyncExitStack() as stack:
        document = json.loads((graphs / "customer-support.json").read_text())
        mcp_url = await stack.enter_async_context(serve(_example("support_tools_mcp").server.streamable_http_app()))
        document["tools"]["support-tools"]["config"]["mcp"]["server"]["url"] = f"{mcp_url}/mcp"
        if "contextConfig" in document:
            profiles = await stack.enter_async_context(serve(_example("profile_service").app))
            for variable in document["contextConfig"].get("contextVariables", {}).values():
                fetch = variable.get("fetchConfig") or {}
                fetch["url"] = str(fetch.get("url", "")).replace(PROFILE_URL, profiles)
        if model is not None:
            document["modelSettings"] = model
        (graphs / "customer-support.json").write_text(json.dumps(document))
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/runtime.db", graphs_dir=graphs, dev=True)
        yield await stack.enter_async_context(serve(create_app(settings)))


def _body(text: str) -> dict[str, Any]:
    return {
        "id": "chat-example",
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
        "requestContext": {"userId": "ada"},
    }


async def _ask(base_url: str, text: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(UI_CHAT, json=_body(text))
    assert response.status_code == 200, response.text
    return await parse_with_ai_sdk(response.text)


def _tickets(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [part["data"] for part in result["message"]["parts"] if part["type"] == "data-component"]


async def test_offline_demo_model_shows_the_support_ticket(tmp_path: Path) -> None:
    async with _runtime(tmp_path) as base_url:
        result = await _ask(base_url, QUESTION)
    assert result["errors"] == []
    (ticket,) = _tickets(result)
    assert ticket["name"] == "SupportTicket"
    assert ticket["props"]["subject"] == QUESTION
    assert (ticket["props"]["category"], ticket["props"]["priority"]) == ("billing", "normal")
    texts = [part["text"] for part in result["message"]["parts"] if part["type"] == "text"]
    assert "[offline demo model] Billing Specialist here." in "".join(texts)
    assert "Hello Ada Lovelace (Pro plan)!" in "".join(texts)  # the profile the context config fetched


async def test_profile_reaches_the_prompt_and_the_ticket_reaches_the_message(tmp_path: Path) -> None:
    ticket = {
        "id": "ticket-1",
        "name": "SupportTicket",
        "props": {"subject": "Double charge", "category": "billing", "priority": "high", "nextStep": "Refund it."},
    }
    async with FakeLLM().running() as fake:
        fake.add(
            Turn.tool_calls([("t1", "transfer_to_billing", {"reason": "refund"})]),
            Turn.text(pieces(envelope(text_item("Hi Ada, I refunded the duplicate charge."), ticket))),
        )
        model = {"model": "openai/fake", "providerOptions": {"api_base": fake.base_url, "api_key": "sk-test"}}
        async with _runtime(tmp_path, model=model) as base_url:
            result = await _ask(base_url, QUESTION)
        router_prompt = fake.requests[0].messages[0]["content"]
    assert "The customer is Ada Lovelace (plan: Pro)" in router_prompt
    assert _tickets(result) == [{"id": "ticket-1", "name": "SupportTicket", "props": ticket["props"]}]
    parts = [part for part in result["message"]["parts"] if part["type"] in {"text", "data-component"}]
    assert [part["type"] for part in parts] == ["text", "data-component"]
    assert parts[0]["text"] == "Hi Ada, I refunded the duplicate charge."
