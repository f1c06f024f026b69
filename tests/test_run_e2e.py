"""The run API end to end over real sockets: real executor, litellm to a fake model, a real MCP server."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import openai
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.conversations import ConversationStore
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import SCOPE, agent, graph_doc, mcp_tool, push

BASE = "/tenants/t1/projects/p1/graphs/g"


@pytest.fixture
def backend() -> str:
    """These tests exercise the wire and the executor together; SQLite is enough."""
    return "sqlite"


async def _key(http: httpx.AsyncClient) -> str:
    response = await http.post("/tenants/t1/crud/projects/p1/api-keys", json={"graphId": "g"})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["key"])


async def test_openai_sdk_streams_a_transfer_and_an_mcp_call(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [agent("router", canTransferTo=["calc"]), agent("calc", tools=["tools"])]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, tools={"tools": mcp_tool(fake_mcp.url)}))
    fake_llm.add(
        Turn.tool_calls([("t1", "transfer_to_calc", {"reason": "math"})]),
        Turn.tool_calls([("c1", "add", {"a": 20, "b": 22})]),
        Turn.text("The sum is 42, computed by the tool."),
    )
    app = create_app(Settings(), store=store)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        key = await _key(http)
        client = openai.AsyncOpenAI(
            base_url=f"{base_url}{BASE}/v1", api_key=key, max_retries=0, _strict_response_validation=True
        )
        raw = await client.chat.completions.with_raw_response.create(
            model="any", stream=True, messages=[{"role": "user", "content": "add 20 and 22"}]
        )
        conversation_id = raw.headers["x-conversation-id"]
        stream = raw.parse()
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        await client.close()
    assert text == "The sum is 42, computed by the tool."
    assert fake_llm.requests[2].messages[-1]["content"] == "42"
    conversation = await ConversationStore(store).get(SCOPE, conversation_id)
    assert conversation is not None
    assert conversation.active_agent_id == "calc"


async def test_client_disconnect_cancels_the_model_call_and_keeps_the_partial_answer(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a")]))
    words = " ".join(f"word{i}" for i in range(60))
    fake_llm.add(Turn.text(words, chunk_delay_s=0.1))
    app = create_app(Settings(), store=store)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        key = await _key(http)
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "count"}]}
        headers = {"Authorization": f"Bearer {key}"}
        async with http.stream("POST", f"{BASE}/v1/chat/completions", json=body, headers=headers) as response:
            conversation_id = response.headers["x-conversation-id"]
            seen = 0
            async for line in response.aiter_lines():
                seen += line.startswith("data: ")
                if seen >= 4:
                    break
        closed_at = anyio.current_time()
        with anyio.fail_after(1):
            await fake_llm.requests[0].finished.wait()
        assert fake_llm.requests[0].disconnected
        assert anyio.current_time() - closed_at < 1
        with anyio.fail_after(3):
            while True:
                answers = [
                    m for m in await ConversationStore(store).messages(SCOPE, conversation_id) if m.role == "assistant"
                ]
                if answers:
                    break
                await anyio.sleep(0.05)
    assert answers[0].is_partial
    assert answers[0].content.startswith("word0")
    assert len(answers[0].content) < len(words)


async def test_env_credential_reaches_the_mcp_server(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    tool = {**mcp_tool(fake_mcp.url), "credentialReferenceId": "crm-token"}
    credential = {"id": "crm-token", "type": "env", "credentialStoreId": "env", "retrievalParams": {"key": "CRM_TOKEN"}}
    document = graph_doc(
        fake_llm.base_url, [agent("a", tools=["tools"])], tools={"tools": tool}, credentialReferences=[credential]
    )
    await push(store, tmp_path, document)
    fake_llm.add(Turn.tool_calls([("c1", "headers", {})]), Turn.text("Checked the headers."))
    app = create_app(Settings.from_env({"CRM_TOKEN": "tok-123"}), store=store)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        key = await _key(http)
        body = {"model": "m", "messages": [{"role": "user", "content": "which headers?"}]}
        response = await http.post(f"{BASE}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert "tok-123" not in response.text
    tool_result = fake_llm.requests[1].messages[-1]["content"]
    assert '"authorization": "bearer tok-123"' in tool_result.lower(), tool_result
