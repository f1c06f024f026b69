"""Agent-tool relations: which MCP tool servers an agent may use, optionally a subset of their tools."""

from __future__ import annotations

from typing import Any

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage.crud import Reference, Resource, crud_endpoints
from inkeep_runtime.manage.schemas import ApiModel, ListQuery, RequestModel, ResourceId

__all__ = [
    "TOOL_RELATIONS",
    "ToolRelationCreate",
    "ToolRelationQuery",
    "ToolRelationRead",
    "ToolRelationUpdate",
    "endpoints",
]


class ToolRelationCreate(RequestModel):
    """Body of `POST /agent-tool-relations` (an id is generated when none is given)."""

    id: ResourceId | None = None
    agent_id: ResourceId
    tool_id: ResourceId
    selected_tools: list[str] | None = None
    headers: dict[str, str] | None = None


class ToolRelationUpdate(RequestModel):
    """Body of `PUT /agent-tool-relations/{id}`."""

    id: ResourceId | None = None
    agent_id: ResourceId | None = None
    tool_id: ResourceId | None = None
    selected_tools: list[str] | None = None
    headers: dict[str, str] | None = None


class ToolRelationRead(ApiModel):
    """An agent-tool relation as returned."""

    id: str
    agent_id: str
    tool_id: str
    selected_tools: list[str] | None = None
    headers: dict[str, Any] | None = None
    created_at: str
    updated_at: str


class ToolRelationQuery(ListQuery):
    """Filters of `GET /agent-tool-relations`."""

    agent_id: str | None = None
    tool_id: str | None = None


TOOL_RELATIONS = Resource(
    path="agent-tool-relations",
    kind="agent_tool_relations",
    label="Agent tool relation",
    tag="Agent Tool Relations",
    create=ToolRelationCreate,
    update=ToolRelationUpdate,
    read=ToolRelationRead,
    query=ToolRelationQuery,
    references=(Reference("agent_id", "agents", "Agent"), Reference("tool_id", "tools", "Tool")),
)


def endpoints() -> list[Endpoint]:
    """The agent-tool relation routes."""
    return crud_endpoints(TOOL_RELATIONS)
