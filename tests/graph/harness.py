"""Helpers to run the real executor against fake models and MCP servers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from inkeep_runtime.events import RunEvent, TextDelta
from inkeep_runtime.graph.contract import PreparedRun, RunTarget
from inkeep_runtime.graph.executor import GraphExecutor
from inkeep_runtime.llm.client import LiteLLMClient
from inkeep_runtime.llm.offline import OfflineModelClient
from inkeep_runtime.manage.graph_files import push_graph_file
from inkeep_runtime.mcp import McpPool
from inkeep_runtime.protocols.requests import RunRequest
from inkeep_runtime.settings import Settings
from inkeep_runtime.store.conversations import ConversationStore, MessageRecord
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope

SCOPE = Scope("t1", "p1")
TARGET = RunTarget(tenant_id="t1", project_id="p1", graph_id="g")


def agent(agent_id: str, **fields: Any) -> dict[str, Any]:
    """A minimal internal agent entry of a full-graph document."""
    return {
        "id": agent_id,
        "name": agent_id.title(),
        "description": f"The {agent_id} agent.",
        "instructions": f"You are {agent_id}.",
        **fields,
    }


def graph_doc(fake_base_url: str, agents: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A full-graph document whose model is the fake LLM."""
    return {
        "id": "g",
        "name": "Test graph",
        "defaultAgentId": agents[0]["id"],
        "modelSettings": {"model": "openai/fake", "providerOptions": {"api_base": fake_base_url, "api_key": "sk-test"}},
        "agents": {a["id"]: a for a in agents},
        **fields,
    }


def mcp_tool(url: str, tool_id: str = "tools", **config: Any) -> dict[str, Any]:
    """A tool record of the full-graph document pointing at a fake MCP server."""
    return {
        "id": tool_id,
        "name": f"{tool_id} server",
        "config": {"type": "mcp", "mcp": {"server": {"url": url}, **config}},
    }


async def push(store: Store, tmp_path: Path, document: Mapping[str, Any]) -> None:
    """Store a full-graph document (creating the project)."""
    file = tmp_path / f"{document['id']}.json"
    file.write_text(json.dumps(document))
    await push_graph_file(store, SCOPE, file)


@asynccontextmanager
async def executor(store: Store, **settings: Any) -> AsyncIterator[GraphExecutor]:
    """The real executor over `store`, with litellm, the offline model and an MCP pool."""
    config = replace(Settings(), **settings)
    async with McpPool() as pool:
        yield GraphExecutor(
            store=store,
            llm=LiteLLMClient(timeout_s=config.llm_timeout_s, retry_base_s=0.01),
            offline_llm=OfflineModelClient(chunk_delay_s=0),
            mcp=pool,
            settings=config,
            version_of=lambda _key: 0,
        )


def request(text: str, conversation_id: str | None = None, **fields: Any) -> RunRequest:
    """A run request with one user message."""
    return RunRequest(conversation_id=conversation_id, user_text=text, **fields)


async def run(
    runner: GraphExecutor, text: str, conversation_id: str | None = None
) -> tuple[PreparedRun, list[RunEvent]]:
    """Prepare and run one turn; return every event."""
    prepared = await runner.prepare(TARGET, request(text, conversation_id))
    return prepared, [event async for event in runner.stream(prepared)]


def text_of(events: list[RunEvent]) -> str:
    """The streamed answer text."""
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def kinds(events: list[RunEvent]) -> list[str]:
    """Event class names, in order."""
    return [type(e).__name__ for e in events]


async def stored(store: Store, conversation_id: str) -> list[MessageRecord]:
    """Every stored message of a conversation."""
    return await ConversationStore(store).messages(SCOPE, conversation_id)
