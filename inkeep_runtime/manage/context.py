"""Context configs: the request-context schema and the variables fetched for agent instructions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage.components import JsonSchema
from inkeep_runtime.manage.crud import Resource, crud_endpoints
from inkeep_runtime.manage.schemas import ApiModel, RequestModel, ResourceId

__all__ = [
    "CONTEXT_CONFIGS",
    "ContextConfigCreate",
    "ContextConfigRead",
    "ContextConfigUpdate",
    "ContextVariable",
    "FetchConfig",
    "endpoints",
]


class FetchConfig(ApiModel):
    """How to fetch one context variable; strings may use `{{requestContext.x}}` templates."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] | None = None
    body: Any = None
    timeout: int | None = Field(default=None, ge=1, le=600_000, description="Milliseconds.")
    transform: str | None = None


class ContextVariable(ApiModel):
    """One fetched value exposed to agent instructions under its key."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    name: str | None = None
    trigger: Literal["initialization", "invocation"] = "initialization"
    fetch_config: FetchConfig
    response_schema: JsonSchema | None = None
    default_value: Any = None
    credential_reference_id: ResourceId | None = None


class ContextConfigCreate(RequestModel):
    """Body of `POST /context-configs`."""

    id: ResourceId
    name: str
    description: str = ""
    request_context_schema: JsonSchema | None = None
    context_variables: dict[str, ContextVariable] | None = None


class ContextConfigUpdate(RequestModel):
    """Body of `PUT /context-configs/{id}`."""

    id: ResourceId | None = None
    name: str | None = None
    description: str | None = None
    request_context_schema: JsonSchema | None = None
    context_variables: dict[str, ContextVariable] | None = None


class ContextConfigRead(ApiModel):
    """A context config as returned."""

    id: str
    name: str
    description: str
    request_context_schema: dict[str, Any] | None = None
    context_variables: dict[str, Any] | None = None
    created_at: str
    updated_at: str


CONTEXT_CONFIGS = Resource(
    path="context-configs",
    kind="context_configs",
    label="Context config",
    tag="Context Configs",
    create=ContextConfigCreate,
    update=ContextConfigUpdate,
    read=ContextConfigRead,
)


def endpoints() -> list[Endpoint]:
    """The context-config routes."""
    return crud_endpoints(CONTEXT_CONFIGS)
