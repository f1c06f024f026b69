"""The resource-family table shared by the CRUD tests: path, minimal valid body and an update per family.

`seed` creates the rows the families refer to (agents `a` and `b`, graph `g`, tool `t`), so every
family's minimal body is valid in a seeded project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

__all__ = ["FAMILIES", "Family", "family_params", "seed"]


@dataclass(frozen=True, slots=True)
class Family:
    """One resource family as the tests see it."""

    path: str
    body: dict[str, Any]
    update: dict[str, Any]
    required: str
    """A field that must never be null."""
    method: str = "PUT"

    @property
    def id(self) -> str:
        """The id the minimal body creates."""
        return str(self.body["id"])


_MCP = {"type": "mcp", "mcp": {"server": {"url": "http://127.0.0.1:9/mcp"}}}

FAMILIES = [
    Family("agents", {"id": "x1", "name": "X", "instructions": "Help."}, {"name": "X2"}, "name"),
    Family("agent-graphs", {"id": "x1", "name": "G"}, {"name": "G2"}, "name"),
    Family(
        "agent-relations",
        {"id": "x1", "graphId": "g", "sourceAgentId": "a", "targetAgentId": "b"},
        {"relationType": "delegate"},
        "sourceAgentId",
    ),
    Family("agent-tool-relations", {"id": "x1", "agentId": "b", "toolId": "t"}, {"selectedTools": ["echo"]}, "toolId"),
    Family(
        "data-components",
        {"id": "x1", "name": "D", "description": "d", "props": {"type": "object"}},
        {"description": "d2"},
        "name",
    ),
    Family("artifact-components", {"id": "x1", "name": "A", "description": "d"}, {"name": "A2"}, "name"),
    Family("context-configs", {"id": "x1", "name": "C"}, {"description": "c2"}, "name"),
    Family(
        "credentials",
        {"id": "x1", "type": "env", "credentialStoreId": "env", "retrievalParams": {"key": "K"}},
        {"retrievalParams": {"key": "K2"}},
        "type",
    ),
    Family(
        "external-agents",
        {"id": "x1", "name": "E", "baseUrl": "https://example.com/a2a"},
        {"baseUrl": "http://example.org/a2a"},
        "baseUrl",
    ),
    Family("tools", {"id": "x1", "name": "T", "config": _MCP}, {"name": "T2"}, "config"),
]


def family_params() -> list[Any]:
    """`FAMILIES` as pytest params named by path."""
    return [pytest.param(family, id=family.path) for family in FAMILIES]


async def seed(client: httpx.AsyncClient, project: str) -> None:
    """Create agents `a`, `b`, graph `g` (default agent `a`) and tool `t` in `project`."""
    for agent in ("a", "b"):
        response = await client.post(f"{project}/agents", json={"id": agent, "name": agent, "instructions": "x"})
        assert response.status_code == 201, response.text
    response = await client.post(f"{project}/agent-graphs", json={"id": "g", "name": "G", "defaultAgentId": "a"})
    assert response.status_code == 201, response.text
    response = await client.post(f"{project}/tools", json={"id": "t", "name": "T", "config": _MCP})
    assert response.status_code == 201, response.text
