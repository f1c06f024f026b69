"""Runs admitted over HTTP are recorded: source, API key, and a client that goes away (real uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.graph.harness import agent, graph_doc, push

pytestmark = pytest.mark.usefixtures("backend")

RUN = "/tenants/t1/projects/p1/graphs/g"
LOGS = "/tenants/t1/crud/projects/p1/query-logs"


async def _logs(client: httpx.AsyncClient, count: int, **params: Any) -> list[dict[str, Any]]:
    """The query list once it has `count` items (the writer stores records off the request path)."""
    with anyio.fail_after(10):
        while True:
            data: list[dict[str, Any]] = (await client.get(LOGS, params=params)).json()["data"]
            if len(data) >= count:
                return data
            await anyio.sleep(0.05)


async def test_both_chat_endpoints_are_recorded_with_source_and_api_key(
    client: httpx.AsyncClient, store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("solo")]))
    created = await client.post("/tenants/t1/crud/projects/p1/api-keys", json={"graphId": "g"})
    assert created.status_code == 201, created.text
    key_id, key = created.json()["data"]["apiKey"]["id"], created.json()["data"]["key"]
    auth = {"Authorization": f"Bearer {key}"}
    fake_llm.add(Turn.text("Paris is the capital."), Turn.text("Berlin, I believe."))
    body = {"model": "m", "messages": [{"role": "user", "content": "Capital of France?"}], "user": "end-user-1"}
    response = await client.post(f"{RUN}/v1/chat/completions", json=body, headers=auth)
    assert response.status_code == 200, response.text
    ui = {"id": "chat-2", "messages": [{"role": "user", "parts": [{"type": "text", "text": "Capital of Germany?"}]}]}
    response = await client.post(f"{RUN}/api/chat", json=ui, headers=auth)
    assert response.status_code == 200, response.text
    newest, oldest = await _logs(client, 2)
    assert (oldest["source"], oldest["input"], oldest["status"]) == (
        "chat_completions",
        "Capital of France?",
        "success",
    )
    assert (newest["source"], newest["conversationId"]) == ("api_chat", "chat-2")
    detail = (await client.get(f"{LOGS}/{oldest['id']}")).json()["data"]
    assert (detail["apiKeyId"], detail["endUserId"], detail["output"]) == (
        key_id,
        "end-user-1",
        "Paris is the capital.",
    )


async def test_a_client_that_goes_away_leaves_a_cancelled_query(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("solo")]))
    fake_llm.add(Turn.text("one two three four five six seven eight nine ten", chunk_delay_s=0.2))
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", dev=True), store=store)
    body = {"id": "chat-9", "messages": [{"role": "user", "parts": [{"type": "text", "text": "Count slowly"}]}]}
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        async with http.stream("POST", f"{RUN}/api/chat", json=body) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if "text-delta" in line:
                    break  # leaving the block closes the connection mid-stream
        (log,) = await _logs(http, 1)
    assert (log["status"], log["errorType"], log["llmCalls"]) == ("cancelled", None, 1)
