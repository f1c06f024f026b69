"""Agents: instructions, model settings and history configuration of one participant in a graph."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage.crud import Resource, crud_endpoints
from inkeep_runtime.manage.schemas import ApiModel, RequestModel, ResourceId
from inkeep_runtime.manage.settings_models import ConversationHistoryConfig, ModelSettings, StopWhen

__all__ = ["AGENTS", "AgentCreate", "AgentRead", "AgentUpdate", "endpoints"]


class AgentCreate(RequestModel):
    """Body of `POST /agents`."""

    id: ResourceId
    name: str
    description: str = ""
    instructions: str
    conversation_history_config: ConversationHistoryConfig | None = None
    model_settings: ModelSettings | None = None
    stop_when: StopWhen | None = None
    type: Literal["internal"] | None = Field(default=None, exclude=True)


class AgentUpdate(RequestModel):
    """Body of `PUT /agents/{id}`: the fields to change."""

    id: ResourceId | None = None
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    conversation_history_config: ConversationHistoryConfig | None = None
    model_settings: ModelSettings | None = None
    stop_when: StopWhen | None = None
    type: Literal["internal"] | None = Field(default=None, exclude=True)


class AgentRead(ApiModel):
    """An agent as returned."""

    id: str
    name: str
    description: str
    instructions: str
    conversation_history_config: dict[str, Any] | None = None
    model_settings: dict[str, Any] | None = None
    stop_when: dict[str, Any] | None = None
    created_at: str
    updated_at: str


def _to_row(values: dict[str, Any]) -> dict[str, Any]:
    values.pop("type", None)
    return values


AGENTS = Resource(
    path="agents",
    kind="agents",
    label="Agent",
    tag="Agents",
    create=AgentCreate,
    update=AgentUpdate,
    read=AgentRead,
    to_row=_to_row,
)


def endpoints() -> list[Endpoint]:
    """The agent routes."""
    return crud_endpoints(AGENTS)
