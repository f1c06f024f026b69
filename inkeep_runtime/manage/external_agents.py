"""External agents: A2A peers that a graph can delegate or transfer to."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage.crud import Reference, Resource, crud_endpoints
from inkeep_runtime.manage.schemas import ApiModel, HttpUrl, RequestModel, ResourceId

__all__ = ["EXTERNAL_AGENTS", "ExternalAgentCreate", "ExternalAgentRead", "ExternalAgentUpdate", "endpoints"]


class ExternalAgentCreate(RequestModel):
    """Body of `POST /external-agents`."""

    id: ResourceId
    name: str
    description: str = ""
    base_url: HttpUrl
    credential_reference_id: ResourceId | None = None
    headers: dict[str, str] | None = None
    type: Literal["external"] | None = Field(default=None, exclude=True)


class ExternalAgentUpdate(RequestModel):
    """Body of `PUT /external-agents/{id}`."""

    id: ResourceId | None = None
    name: str | None = None
    description: str | None = None
    base_url: HttpUrl | None = None
    credential_reference_id: ResourceId | None = None
    headers: dict[str, str] | None = None
    type: Literal["external"] | None = Field(default=None, exclude=True)


class ExternalAgentRead(ApiModel):
    """An external agent as returned."""

    id: str
    name: str
    description: str
    base_url: str
    credential_reference_id: str | None = None
    headers: dict[str, Any] | None = None
    created_at: str
    updated_at: str


def _to_row(values: dict[str, Any]) -> dict[str, Any]:
    values.pop("type", None)
    return values


EXTERNAL_AGENTS = Resource(
    path="external-agents",
    kind="external_agents",
    label="External agent",
    tag="External Agents",
    create=ExternalAgentCreate,
    update=ExternalAgentUpdate,
    read=ExternalAgentRead,
    to_row=_to_row,
    references=(Reference("credential_reference_id", "credential_references", "Credential"),),
)


def endpoints() -> list[Endpoint]:
    """The external-agent routes."""
    return crud_endpoints(EXTERNAL_AGENTS)
