"""Shared set-up of the permission and approval tests: a graph with one MCP-using agent, permissions, keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.permissions import set_default_mode, set_override, write_permission
from tests.fakes.fake_llm import FakeLLM
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import SCOPE, agent, graph_doc, mcp_tool, push

__all__ = [
    "APPROVALS",
    "CRUD",
    "RUN",
    "add_context",
    "api_key",
    "data_lines",
    "ops_graph",
    "permit",
    "set_default",
]

CRUD = "/tenants/t1/crud/projects/p1"
RUN = "/tenants/t1/projects/p1/graphs/g"
APPROVALS = "/tenants/t1/projects/p1/tool-approvals"


async def ops_graph(store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer) -> None:
    """Graph `g` whose agent `ops` uses the fake MCP server's tools (tool record `tools`)."""
    doc = graph_doc(fake_llm.base_url, [agent("ops", tools=["tools"])], tools={"tools": mcp_tool(fake_mcp.url)})
    await push(store, tmp_path, doc)


async def permit(store: Store, tool_name: str, mode: str | None, *, agent_id: str = "ops") -> None:
    """Set `agent_id`'s mode for `tool_name` of tool record `tools`."""
    async with store.write(SCOPE.key) as session:
        await write_permission(
            session, SCOPE, agent_id=agent_id, tool_id="tools", tool_name=tool_name, mode=mode, impact_level=None
        )


async def set_default(store: Store, mode: str) -> None:
    """Set the project's default mode."""
    async with store.write(SCOPE.key) as session:
        await set_default_mode(session, SCOPE, mode)


async def add_context(store: Store, tool_name: str, text: str) -> None:
    """Set the added context of `tool_name` of tool record `tools`."""
    async with store.write(SCOPE.key) as session:
        await set_override(session, SCOPE, tool_id="tools", tool_name=tool_name, added_context=text)


async def api_key(http: httpx.AsyncClient, graph_id: str = "g") -> str:
    """A new API key of `graph_id`."""
    response = await http.post(f"{CRUD}/api-keys", json={"graphId": graph_id})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["key"])


def data_lines(body: str) -> list[Any]:
    """The JSON payloads of an SSE body (`[DONE]` as the string)."""
    found: list[Any] = []
    for line in body.splitlines():
        if line.startswith("data: "):
            payload = line.removeprefix("data: ")
            found.append(payload if payload == "[DONE]" else json.loads(payload))
    return found
