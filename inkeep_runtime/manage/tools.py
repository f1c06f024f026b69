"""Tools: MCP server records (connection config, credentials, health and the cached tool list)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from inkeep_runtime.errors import NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, Reference, Resource, crud_endpoints, project_scope
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope, HttpUrl, ListQuery, RequestModel, ResourceId
from inkeep_runtime.store.rows import Rows

__all__ = [
    "TOOLS",
    "ListedTool",
    "McpConfig",
    "McpServer",
    "McpTransport",
    "ToolConfig",
    "ToolCreate",
    "ToolQuery",
    "ToolRead",
    "ToolStatus",
    "ToolStatusUpdate",
    "ToolUpdate",
    "endpoints",
]

ToolStatus = Literal["healthy", "unhealthy", "unknown", "disabled", "needs_auth"]


class McpServer(ApiModel):
    """Where the MCP server is: a URL (HTTP transports) or a command (stdio)."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = None
    command: str | None = Field(default=None, min_length=1)
    args: list[str] | None = None
    env: dict[str, str] | None = None
    timeout: int | None = Field(default=None, ge=1, description="Milliseconds per call.")
    headers: dict[str, str] | None = None


class McpTransport(ApiModel):
    """How to talk to the server."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["streamable_http", "sse", "stdio"] = "streamable_http"
    request_init: dict[str, Any] | None = None
    event_source_init: dict[str, Any] | None = None
    reconnection_options: dict[str, Any] | None = None
    session_id: str | None = None


class McpConfig(ApiModel):
    """MCP settings of a tool record."""

    model_config = ConfigDict(extra="forbid")

    server: McpServer
    transport: McpTransport | None = None
    active_tools: list[str] | None = None

    @model_validator(mode="after")
    def _reachable(self) -> McpConfig:
        kind = self.transport.type if self.transport else "streamable_http"
        if kind == "stdio" and not self.server.command:
            msg = "A stdio transport needs server.command."
            raise ValueError(msg)
        if kind != "stdio" and not self.server.url:
            msg = f"A {kind} transport needs server.url."
            raise ValueError(msg)
        return self


class ToolConfig(ApiModel):
    """`config` of a tool record."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["mcp"] = "mcp"
    mcp: McpConfig


class ToolCreate(RequestModel):
    """Body of `POST /tools` (an id is generated when none is given)."""

    id: ResourceId | None = None
    name: str = Field(min_length=1)
    config: ToolConfig
    credential_reference_id: ResourceId | None = None
    image_url: str | None = None
    headers: dict[str, str] | None = None
    capabilities: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class ToolUpdate(RequestModel):
    """Body of `PUT /tools/{id}`."""

    id: ResourceId | None = None
    name: str | None = Field(default=None, min_length=1)
    config: ToolConfig | None = None
    credential_reference_id: ResourceId | None = None
    image_url: str | None = None
    headers: dict[str, str] | None = None
    capabilities: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class ToolStatusUpdate(RequestModel):
    """Body of `PATCH /tools/{id}/status`."""

    status: ToolStatus


class AvailableTool(ApiModel):
    """One tool the MCP server offers."""

    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None


class ListedTool(AvailableTool):
    """An item of `GET .../tools/{id}/available-tools`: the cached tool plus its added context."""

    added_context: str | None = None
    """Operator-written text appended to the description the model sees (#13)."""


class ToolRead(ApiModel):
    """A tool record as returned."""

    id: str
    tenant_id: str
    project_id: str
    name: str
    config: dict[str, Any]
    credential_reference_id: str | None = None
    image_url: str | None = None
    headers: dict[str, Any] | None = None
    capabilities: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    status: ToolStatus
    last_health_check: str | None = None
    last_error: str | None = None
    available_tools: list[AvailableTool] | None = None
    last_tools_sync: str | None = None
    version: str | None = None
    created_at: str
    updated_at: str


class ToolQuery(ListQuery):
    """Filters of `GET /tools`."""

    status: ToolStatus | None = None


TOOLS = Resource(
    path="tools",
    kind="tools",
    label="Tool",
    tag="Tools",
    create=ToolCreate,
    update=ToolUpdate,
    read=ToolRead,
    query=ToolQuery,
    references=(Reference("credential_reference_id", "credential_references", "Credential"),),
)


async def update_status(call: Call) -> Any:
    """Set a tool's status by hand (e.g. `disabled`)."""
    scope = project_scope(call)
    async with call.services.store.write(scope.key) as session:
        row = await Rows(session).update("tools", scope, call.path["id"], {"status": call.body.status}, label="Tool")
    if row is None:
        msg = f"Tool '{call.path['id']}' does not exist in project '{scope.project_id}'."
        raise NotFound(msg)
    call.services.changed(scope)
    return {"data": ToolRead.model_validate(row).model_dump(mode="json")}


def endpoints() -> list[Endpoint]:
    """The tool routes that need no live MCP connection."""
    return [
        *crud_endpoints(TOOLS),
        Endpoint(
            method="PATCH",
            path=f"{PROJECT_PREFIX}/tools/{{id}}/status",
            summary="Update Tool Status",
            handler=update_status,
            tag="Tools",
            body=ToolStatusUpdate,
            response=DataEnvelope[ToolRead],
        ),
    ]
