"""Two runtime instances: a graph on instance 1 delegates to a graph on instance 2 over A2A.

Issue 4's "Done when": the combined answer streams from instance 1 to the `openai` SDK (strict
parsing). Instance 2 is reached through its agent card and JSON-RPC endpoint with an API key that
instance 1 holds as an env credential of the external agent. Both instances use the same fake model
(one script, consumed in call order) and their own databases.
"""

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
from inkeep_runtime.store.migrations import migrate
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.graph.harness import agent, graph_doc, push

pytestmark = pytest.mark.usefixtures("backend")

PROJECT = "/tenants/t1/projects/p1"


async def api_key(http: httpx.AsyncClient, graph_id: str) -> str:
    response = await http.post("/tenants/t1/crud/projects/p1/api-keys", json={"graphId": graph_id})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["key"])


@asynccontextmanager
async def instance(store: Store, settings: Settings) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    async with serve(create_app(settings, store=store)) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        yield base, http


@asynccontextmanager
async def remote_store(tmp_path: Path) -> AsyncIterator[Store]:
    """Instance 2's own database (SQLite; instance 1 runs on each backend)."""
    store = Store.open(f"sqlite+aiosqlite:///{tmp_path}/remote.db")
    await migrate(store.engine)
    try:
        yield store
    finally:
        await store.close()


def split_content(chunks: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The answer text and the data-operations (JSON strings in `delta.content` with x-emit-operations)."""
    text, operations = [], []
    for chunk in chunks:
        try:
            payload = json.loads(chunk)
        except ValueError:
            text.append(chunk)
            continue
        assert payload["type"] == "data-operation", payload
        operations.append(payload["data"])
    return "".join(text), operations


async def ask(client: openai.AsyncOpenAI, question: str, conversation_id: str | None) -> tuple[str, list[str]]:
    raw = await client.chat.completions.with_raw_response.create(
        model="any",
        stream=True,
        messages=[{"role": "user", "content": question}],
        extra_headers={"x-emit-operations": "true"},
        extra_body={"conversationId": conversation_id} if conversation_id else None,
    )
    stream = raw.parse()
    content = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    return raw.headers["x-conversation-id"], [c for c in content if c]


async def test_graph_delegates_to_a_graph_on_another_instance_and_streams_the_combined_answer(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    async with remote_store(tmp_path) as far_store:
        await push(far_store, tmp_path, graph_doc(fake_llm.base_url, [agent("geographer")], id="atlas"))
        async with instance(far_store, Settings()) as (far_base, far_http):
            far_key = await api_key(far_http, "atlas")
            external = {
                "id": "atlas",
                "type": "external",
                "name": "Atlas",
                "description": "Geography experts on another server.",
                "baseUrl": f"{far_base}{PROJECT}/agents/atlas",
                "credentialReferenceId": "atlas-key",
            }
            credential = {
                "id": "atlas-key",
                "type": "env",
                "credentialStoreId": "env",
                "retrievalParams": {"key": "ATLAS_API_KEY"},
            }
            document = graph_doc(
                fake_llm.base_url,
                [agent("router", canDelegateTo=["atlas"]), external],
                credentialReferences=[credential],
            )
            await push(store, tmp_path, document)
            fake_llm.add(
                Turn.tool_calls([("d1", "delegate_to_atlas", {"message": "What is the capital of France?"})]),
                Turn.text("Paris is the capital of France."),  # answered on instance 2
                Turn.text(["Our geographers say: ", "Paris is the capital ", "of France."]),
                Turn.tool_calls([("d2", "delegate_to_atlas", {"message": "And its population?"})]),
                Turn.text("About 2.1 million people live in Paris."),  # instance 2, same remote conversation
                Turn.text(["Roughly ", "2.1 million."]),
            )
            async with instance(store, Settings.from_env({"ATLAS_API_KEY": far_key})) as (near_base, near_http):
                near_key = await api_key(near_http, "g")
                client = openai.AsyncOpenAI(
                    base_url=f"{near_base}{PROJECT}/graphs/g/v1",
                    api_key=near_key,
                    max_retries=0,
                    _strict_response_validation=True,
                )
                conversation_id, first = await ask(client, "What is the capital of France?", None)
                _, second = await ask(client, "How many people live there?", conversation_id)
                await client.close()
    text, operations = split_content(first)
    assert text == "Our geographers say: Paris is the capital of France."
    sent = next(o for o in operations if o["type"] == "delegation_sent")
    returned = next(o for o in operations if o["type"] == "delegation_returned")
    assert sent["details"]["data"]["targetAgent"] == "atlas"
    assert sent["details"]["data"]["isExternal"] is True
    assert returned["details"]["data"]["isError"] is False
    assert returned["details"]["data"]["result"] == "Paris is the capital of France."
    assert split_content(second)[0] == "Roughly 2.1 million."
    remote_second_turn = fake_llm.requests[4].messages
    assert "You are geographer." in remote_second_turn[0]["content"]
    contents = [m.get("content") for m in remote_second_turn]
    assert "Paris is the capital of France." in contents  # instance 2 continued its conversation
    assert contents[-1] == "And its population?"
    assert far_key not in json.dumps([r.messages for r in fake_llm.requests])


async def test_transfer_to_a_graph_on_another_instance_streams_its_answer_as_it_comes(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    async with remote_store(tmp_path) as far_store:
        await push(far_store, tmp_path, graph_doc(fake_llm.base_url, [agent("geographer")], id="atlas"))
        async with instance(far_store, Settings()) as (far_base, far_http):
            far_key = await api_key(far_http, "atlas")
            external = {
                "id": "atlas",
                "type": "external",
                "name": "Atlas",
                "description": "Geography experts on another server.",
                "baseUrl": f"{far_base}{PROJECT}/agents/atlas",
                "headers": {"Authorization": f"Bearer {far_key}"},
            }
            document = graph_doc(fake_llm.base_url, [agent("router", canTransferTo=["atlas"]), external])
            await push(store, tmp_path, document)
            fake_llm.add(
                Turn.tool_calls([("t1", "transfer_to_atlas", {"reason": "geography"})]),
                Turn.text(["Paris ", "is the ", "capital ", "of France."], chunk_delay_s=0.05),  # instance 2
            )
            async with instance(store, Settings()) as (near_base, near_http):
                client = openai.AsyncOpenAI(
                    base_url=f"{near_base}{PROJECT}/graphs/g/v1",
                    api_key=await api_key(near_http, "g"),
                    max_retries=0,
                    _strict_response_validation=True,
                )
                _, content = await ask(client, "What is the capital of France?", None)
                await client.close()
    text, operations = split_content(content)
    assert text == "Paris is the capital of France."
    assert [c for c in content if not c.startswith("{")] == ["Paris ", "is the ", "capital ", "of France."]
    transfer = next(o for o in operations if o["type"] == "transfer")
    assert transfer["details"]["data"] == {"fromAgent": "router", "targetAgent": "atlas", "reason": "geography"}
