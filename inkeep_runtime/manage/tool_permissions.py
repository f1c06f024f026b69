"""Per-agent tool permissions, the project default, and operator-written tool context.

Routes (caylex.md §4.3, §4.4; our numbering there):

* #9  `GET  .../agents/{agentId}/tool-permissions`: one entry per MCP tool the agent reaches through its
  agent-tool relations (the server's cached tool list, narrowed by `selectedTools` and `activeTools`),
  with its mode and whether that mode is `explicit` or the project `default`.
* #10 `PUT  .../agents/{agentId}/tool-permissions`: upsert only the listed `(toolId, toolName)` entries;
  `mode: null` clears one back to the default. A tool the agent has no relation to, or a name the server's
  synced tool list does not have, is a 400 naming the field. Answers with the full list, as #9.
* `GET|PUT .../tool-permission-defaults`: the project's default mode (`always_execute` unless set).
* #13 `PATCH .../tools/{id}/available-tools/{toolName}`: `addedContext` (≤ 2000 characters, or null to
  remove), appended to the tool's description for the model and shown by `GET .../available-tools`.

Every write bumps the definitions version (`Services.changed`), so the next run sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import anyio
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from inkeep_runtime.errors import FieldError, InvalidRequest, NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, project_scope, require_project
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope, RequestModel, ResourceId
from inkeep_runtime.manage.tool_health import sync_if_never_synced
from inkeep_runtime.store.permissions import (
    read_default_mode,
    read_permissions,
    set_default_mode,
    set_override,
    write_permission,
)
from inkeep_runtime.store.rows import Rows, Scope

__all__ = ["PermissionMode", "endpoints"]

PermissionMode = Literal["always_execute", "require_approval", "disabled"]
_TAG = "Tool Permissions"
_MAX_ADDED_CONTEXT = 2000


class ToolPermissionRead(ApiModel):
    """One tool of an agent and how the agent may use it."""

    tool_id: str
    tool_server_name: str
    tool_name: str
    mode: PermissionMode
    impact_level: str | None = None
    source: Literal["explicit", "default"]


class ToolPermissionChange(RequestModel):
    """One entry of #10 (`mode: null` clears it back to the project default)."""

    tool_id: ResourceId
    tool_name: str = Field(min_length=1, max_length=255)
    mode: PermissionMode | None
    impact_level: str | None = Field(default=None, max_length=64, description="Free text, e.g. read|write.")


class ToolPermissionsUpdate(RequestModel):
    """Body of #10."""

    permissions: list[ToolPermissionChange] = Field(max_length=1000)


class PermissionDefaults(ApiModel):
    """The project's default mode."""

    default_mode: PermissionMode


class PermissionDefaultsUpdate(RequestModel):
    """Body of `PUT .../tool-permission-defaults`."""

    default_mode: PermissionMode


class AddedContextUpdate(RequestModel):
    """Body of #13."""

    added_context: str | None = Field(max_length=_MAX_ADDED_CONTEXT)


class AddedContextRead(ApiModel):
    """`data` of #13."""

    tool_name: str
    added_context: str | None
    updated_at: str


# --- permissions ------------------------------------------------------------------------------------------------


async def _relations(rows: Rows, scope: Scope, agent_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The agent's (relation, tool record) pairs. Raises NotFound for an unknown project or agent."""
    await require_project(rows, scope)
    if await rows.get("agents", scope, agent_id) is None:
        msg = f"Agent '{agent_id}' does not exist in project '{scope.project_id}'."
        raise NotFound(msg)
    links = await rows.find("agent_tool_relations", scope, agent_id=agent_id)
    ids = sorted({link["tool_id"] for link in links})
    tools = {row["id"]: row for row in await rows.find("tools", scope, id=ids)} if ids else {}
    return [(link, tools[link["tool_id"]]) for link in links if link["tool_id"] in tools]


def _reachable(link: Mapping[str, Any], tool: Mapping[str, Any]) -> list[str]:
    """The tool names the relation lets the agent see, from the server's synced list."""
    selected = link["selected_tools"]
    active = ((tool["config"] or {}).get("mcp") or {}).get("activeTools")
    names = [t["name"] for t in tool["available_tools"] or []]
    return [n for n in names if (selected is None or n in selected) and (active is None or n in active)]


async def _permission_list(session: AsyncSession, scope: Scope, agent_id: str) -> list[dict[str, Any]]:
    rows = Rows(session)
    pairs = await _relations(rows, scope, agent_id)
    explicit = {(p.tool_id, p.tool_name): p for p in await read_permissions(session, scope, agent_id)}
    default = await read_default_mode(session, scope)
    found: list[dict[str, Any]] = []
    for link, tool in pairs:
        names = _reachable(link, tool)
        names += sorted(name for tool_id, name in explicit if tool_id == tool["id"] and name not in names)
        for name in names:
            record = explicit.get((tool["id"], name))
            item = ToolPermissionRead(
                tool_id=tool["id"],
                tool_server_name=tool["name"],
                tool_name=name,
                mode=record.mode if record else default,
                impact_level=record.impact_level if record else None,
                source="explicit" if record else "default",
            )
            found.append(item.model_dump(mode="json"))
    return found


async def _sync_unlisted(call: Call, scope: Scope, agent_id: str) -> None:
    """List the servers of the agent's tools that were never synced (live, outside any transaction)."""
    async with call.services.store.read() as session:
        pairs = await _relations(Rows(session), scope, agent_id)
    unlisted = {tool["id"]: tool for _, tool in pairs if tool["last_tools_sync"] is None}
    async with anyio.create_task_group() as group:
        for tool in unlisted.values():
            group.start_soon(sync_if_never_synced, call, scope, tool)


async def get_permissions(call: Call) -> Any:
    """#9: every tool the agent reaches, with its mode (servers never listed are listed first)."""
    scope = project_scope(call)
    await _sync_unlisted(call, scope, call.path["agentId"])
    async with call.services.store.read() as session:
        return {"data": await _permission_list(session, scope, call.path["agentId"])}


def _check_changes(body: ToolPermissionsUpdate, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """400 naming each entry that points at a tool the agent cannot reach."""
    tools = {tool["id"]: tool for _, tool in pairs}
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for index, change in enumerate(body.permissions):
        tool = tools.get(change.tool_id)
        known = [t["name"] for t in (tool or {}).get("available_tools") or []]
        if tool is None:
            message = f"The agent has no relation to tool '{change.tool_id}'; add an agent-tool relation first."
            errors.append(FieldError(pointer=f"/permissions/{index}/toolId", message=message))
        elif tool["available_tools"] is not None and change.tool_name not in known:
            message = f"Tool '{tool['name']}' offers no tool named '{change.tool_name}' (known: {', '.join(known)})."
            errors.append(FieldError(pointer=f"/permissions/{index}/toolName", message=message))
        elif (change.tool_id, change.tool_name) in seen:
            message = "This (toolId, toolName) is listed twice; list each tool once."
            errors.append(FieldError(pointer=f"/permissions/{index}", message=message))
        seen.add((change.tool_id, change.tool_name))
    if errors:
        fields = ", ".join(e.pointer for e in errors)
        msg = f"Invalid request body: {len(errors)} problem(s) at {fields}."
        raise InvalidRequest(msg, errors)


async def put_permissions(call: Call) -> Any:
    """#10: upsert the listed permissions; answer with the full list."""
    scope = project_scope(call)
    agent_id = call.path["agentId"]
    body: ToolPermissionsUpdate = call.body
    await _sync_unlisted(call, scope, agent_id)
    async with call.services.store.write(scope.key) as session:
        _check_changes(body, await _relations(Rows(session), scope, agent_id))
        for change in body.permissions:
            await write_permission(
                session,
                scope,
                agent_id=agent_id,
                tool_id=change.tool_id,
                tool_name=change.tool_name,
                mode=change.mode,
                impact_level=change.impact_level,
            )
        found = await _permission_list(session, scope, agent_id)
    call.services.changed(scope)
    return {"data": found}


async def get_defaults(call: Call) -> Any:
    """The project's default mode."""
    scope = project_scope(call)
    async with call.services.store.read() as session:
        await require_project(Rows(session), scope)
        mode = await read_default_mode(session, scope)
    return {"data": {"defaultMode": mode}}


async def put_defaults(call: Call) -> Any:
    """Set the project's default mode."""
    scope = project_scope(call)
    async with call.services.store.write(scope.key) as session:
        await require_project(Rows(session), scope)
        await set_default_mode(session, scope, call.body.default_mode)
    call.services.changed(scope)
    return {"data": {"defaultMode": call.body.default_mode}}


# --- added context ----------------------------------------------------------------------------------------------


async def patch_added_context(call: Call) -> Any:
    """#13: set or clear the context appended to one MCP tool's description."""
    scope = project_scope(call)
    tool_id, tool_name = call.path["id"], call.path["toolName"]
    async with call.services.store.write(scope.key) as session:
        rows = Rows(session)
        await require_project(rows, scope)
        tool = await rows.get("tools", scope, tool_id)
        if tool is None:
            msg = f"Tool '{tool_id}' does not exist in project '{scope.project_id}'."
            raise NotFound(msg)
        known = [t["name"] for t in tool["available_tools"] or []]
        if tool["available_tools"] is not None and tool_name not in known:
            msg = f"Tool '{tool['name']}' offers no tool named '{tool_name}' (known: {', '.join(known)})."
            raise NotFound(msg)
        text = call.body.added_context
        updated_at = await set_override(session, scope, tool_id=tool_id, tool_name=tool_name, added_context=text)
    call.services.changed(scope)
    return {"data": AddedContextRead(tool_name=tool_name, added_context=text, updated_at=updated_at).model_dump()}


def endpoints() -> list[Endpoint]:
    """The permission and added-context routes."""
    agent_path = f"{PROJECT_PREFIX}/agents/{{agentId}}/tool-permissions"
    return [
        Endpoint(
            method="GET",
            path=agent_path,
            summary="List an Agent's Tool Permissions",
            handler=get_permissions,
            tag=_TAG,
            response=DataEnvelope[list[ToolPermissionRead]],
        ),
        Endpoint(
            method="PUT",
            path=agent_path,
            summary="Update an Agent's Tool Permissions",
            description="Upserts only the listed tools; `mode: null` clears one back to the project default.",
            handler=put_permissions,
            tag=_TAG,
            body=ToolPermissionsUpdate,
            response=DataEnvelope[list[ToolPermissionRead]],
            errors=(400, 401, 404, 413),
        ),
        Endpoint(
            method="GET",
            path=f"{PROJECT_PREFIX}/tool-permission-defaults",
            summary="Get the Project's Default Tool Permission",
            handler=get_defaults,
            tag=_TAG,
            response=DataEnvelope[PermissionDefaults],
        ),
        Endpoint(
            method="PUT",
            path=f"{PROJECT_PREFIX}/tool-permission-defaults",
            summary="Set the Project's Default Tool Permission",
            handler=put_defaults,
            tag=_TAG,
            body=PermissionDefaultsUpdate,
            response=DataEnvelope[PermissionDefaults],
        ),
        Endpoint(
            method="PATCH",
            path=f"{PROJECT_PREFIX}/tools/{{id}}/available-tools/{{toolName}}",
            summary="Set a Tool's Added Context",
            description="Text (at most 2000 characters) appended to the tool's description; null removes it.",
            handler=patch_added_context,
            tag="Tools",
            body=AddedContextUpdate,
            response=DataEnvelope[AddedContextRead],
        ),
    ]
