"""Agent graphs: the runnable unit (default agent, model settings, guards, context config)."""

from __future__ import annotations

from typing import Any

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage.crud import Reference, Resource, crud_endpoints
from inkeep_runtime.manage.schemas import ApiModel, RequestModel, ResourceId
from inkeep_runtime.manage.settings_models import ModelSettings, StatusUpdates, StopWhen

__all__ = ["GRAPHS", "GraphCreate", "GraphRead", "GraphUpdate", "endpoints"]


class GraphCreate(RequestModel):
    """Body of `POST /agent-graphs`."""

    id: ResourceId
    name: str
    description: str | None = None
    default_agent_id: ResourceId | None = None
    context_config_id: ResourceId | None = None
    model_settings: ModelSettings | None = None
    status_updates: StatusUpdates | None = None
    stop_when: StopWhen | None = None


class GraphUpdate(RequestModel):
    """Body of `PUT /agent-graphs/{id}`: the fields to change."""

    id: ResourceId | None = None
    name: str | None = None
    description: str | None = None
    default_agent_id: ResourceId | None = None
    context_config_id: ResourceId | None = None
    model_settings: ModelSettings | None = None
    status_updates: StatusUpdates | None = None
    stop_when: StopWhen | None = None


class GraphRead(ApiModel):
    """An agent graph as returned."""

    id: str
    name: str
    description: str | None = None
    default_agent_id: str | None = None
    context_config_id: str | None = None
    model_settings: dict[str, Any] | None = None
    status_updates: dict[str, Any] | None = None
    stop_when: dict[str, Any] | None = None
    created_at: str
    updated_at: str


GRAPH_REFERENCES = (
    Reference("default_agent_id", "agents", "Agent"),
    Reference("context_config_id", "context_configs", "Context config"),
)

GRAPHS = Resource(
    path="agent-graphs",
    kind="agent_graphs",
    label="Agent graph",
    tag="Agent Graphs",
    create=GraphCreate,
    update=GraphUpdate,
    read=GraphRead,
    references=GRAPH_REFERENCES,
)


def endpoints() -> list[Endpoint]:
    """The agent-graph routes (the full-graph and related-agents routes live in their own modules)."""
    return crud_endpoints(GRAPHS)
