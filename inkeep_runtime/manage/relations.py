"""Agent relations: who may transfer to or delegate to whom inside a graph."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from inkeep_runtime.errors import FieldError, InvalidRequest
from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage.crud import Reference, Resource, crud_endpoints
from inkeep_runtime.manage.schemas import ApiModel, ListQuery, RequestModel, ResourceId
from inkeep_runtime.store.rows import Rows, Scope

__all__ = ["RELATIONS", "RelationCreate", "RelationQuery", "RelationRead", "RelationUpdate", "endpoints"]

RelationType = Literal["transfer", "delegate"]


class RelationCreate(RequestModel):
    """Body of `POST /agent-relations`: exactly one of `targetAgentId` and `externalAgentId`."""

    id: ResourceId | None = None
    graph_id: ResourceId
    source_agent_id: ResourceId
    target_agent_id: ResourceId | None = None
    external_agent_id: ResourceId | None = None
    relation_type: RelationType = "transfer"

    @model_validator(mode="after")
    def _one_target(self) -> RelationCreate:
        if (self.target_agent_id is None) == (self.external_agent_id is None):
            msg = "Exactly one of targetAgentId and externalAgentId must be given."
            raise ValueError(msg)
        return self


class RelationUpdate(RequestModel):
    """Body of `PUT /agent-relations/{id}`: the fields to change."""

    id: ResourceId | None = None
    graph_id: ResourceId | None = None
    source_agent_id: ResourceId | None = None
    target_agent_id: ResourceId | None = None
    external_agent_id: ResourceId | None = None
    relation_type: RelationType | None = None


class RelationRead(ApiModel):
    """A relation as returned."""

    id: str
    graph_id: str
    source_agent_id: str
    target_agent_id: str | None = None
    external_agent_id: str | None = None
    relation_type: str
    created_at: str
    updated_at: str


class RelationQuery(ListQuery):
    """Filters of `GET /agent-relations`."""

    graph_id: str | None = Field(default=None, description="Only relations of this graph.")
    source_agent_id: str | None = None
    target_agent_id: str | None = None
    external_agent_id: str | None = None
    relation_type: RelationType | None = None


async def _validate(_rows: Rows, _scope: Scope, row: dict[str, Any], _old: dict[str, Any] | None) -> None:
    if (row.get("target_agent_id") is None) == (row.get("external_agent_id") is None):
        msg = "Exactly one of targetAgentId and externalAgentId must be set."
        raise InvalidRequest(msg, [FieldError(pointer="/targetAgentId", message=msg)])


RELATIONS = Resource(
    path="agent-relations",
    kind="agent_relations",
    label="Agent relation",
    tag="Agent Relations",
    create=RelationCreate,
    update=RelationUpdate,
    read=RelationRead,
    query=RelationQuery,
    references=(
        Reference("graph_id", "agent_graphs", "Agent graph"),
        Reference("source_agent_id", "agents", "Agent"),
        Reference("target_agent_id", "agents", "Agent"),
        Reference("external_agent_id", "external_agents", "External agent"),
    ),
    validate=_validate,
)


def endpoints() -> list[Endpoint]:
    """The agent-relation routes."""
    return crud_endpoints(RELATIONS)
