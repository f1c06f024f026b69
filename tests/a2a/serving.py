"""Our A2A server for tests: the real app on uvicorn over a store holding graph `g`, and a2a-sdk clients for it.

```python
async with served(store, tmp_path, fake_llm) as server:      # server.base, server.key
    async with sdk_client(server, version="0.3") as client:   # an a2a-sdk 1.3.0 Client on the 0.3 interface
        ...
```
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from a2a.client import A2ACardResolver, Client, ClientConfig, create_client
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest, StreamResponse
from google.protobuf.json_format import MessageToDict

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.servers import serve
from tests.graph.harness import agent, graph_doc, push

__all__ = [
    "AGENTS",
    "GRAPH_PATH",
    "Served",
    "events_of",
    "rpc",
    "sdk_client",
    "served",
    "user_message",
]

GRAPH_PATH = "/tenants/t1/projects/p1/agents/g"
"""The graph's A2A base (cards under `/.well-known/`, JSON-RPC at `/a2a`)."""
AGENTS = [agent("router", canTransferTo=["helper"]), agent("helper")]


@dataclass(frozen=True, slots=True)
class Served:
    """A running server: its base URL and an API key of graph `g`."""

    base: str
    key: str
    http: httpx.AsyncClient
    """A client of the server that sends the key."""

    @property
    def rpc_url(self) -> str:
        """The graph's JSON-RPC endpoint."""
        return f"{self.base}{GRAPH_PATH}/a2a"


@asynccontextmanager
async def served(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, *, settings: Settings | None = None, **graph: Any
) -> AsyncIterator[Served]:
    """Push graph `g` (agents router → helper, model: the fake LLM) and serve the app."""
    await push(store, tmp_path, graph_doc(fake_llm.base_url, graph.pop("agents", AGENTS), **graph))
    app = create_app(settings or Settings(), store=store)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.post("/tenants/t1/crud/projects/p1/api-keys", json={"graphId": "g"})
        assert response.status_code == 201, response.text
        key = response.json()["data"]["key"]
        http.headers["Authorization"] = f"Bearer {key}"
        yield Served(base=base, key=key, http=http)


@asynccontextmanager
async def sdk_client(
    server: Served, *, version: Literal["1.0", "0.3"] = "1.0", streaming: bool = True, path: str = GRAPH_PATH
) -> AsyncIterator[Client]:
    """An a2a-sdk client built from our card; `version` keeps only that interface of the card."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {server.key}"}, timeout=10) as http:
        card = await A2ACardResolver(http, f"{server.base}{path}").get_agent_card()
        kept = [i for i in card.supported_interfaces if i.protocol_version == version]
        del card.supported_interfaces[:]
        card.supported_interfaces.extend(kept)
        client = await create_client(card, client_config=ClientConfig(streaming=streaming, httpx_client=http))
        try:
            yield client
        finally:
            await client.close()


def user_message(text: str, *, context_id: str = "") -> SendMessageRequest:
    """A send request with one text part."""
    message = Message(message_id=f"m-{abs(hash(text))}", role=Role.ROLE_USER, parts=[Part(text=text)])
    if context_id:
        message.context_id = context_id
    return SendMessageRequest(message=message)


def events_of(responses: list[StreamResponse]) -> list[dict[str, Any]]:
    """Stream responses as JSON dicts (`{"task": ...}`, `{"statusUpdate": ...}`, ...)."""
    return [MessageToDict(r) for r in responses]


async def rpc(
    server: Served, method: str, params: Any = None, *, version: str | None = None, request_id: Any = 1
) -> dict[str, Any]:
    """One raw JSON-RPC call; returns the parsed body (asserting HTTP 200)."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        body["params"] = params
    headers = {"A2A-Version": version} if version else {}
    response = await server.http.post(f"{GRAPH_PATH}/a2a", content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    result: dict[str, Any] = response.json()
    return result
