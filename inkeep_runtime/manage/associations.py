"""Which data and artifact components an agent may emit, plus the per-agent and per-tool views of tool relations.

The two component families have the same five routes (list an agent's components, list a component's
agents, associate, remove, exists); one `ComponentLink` describes a family and `link_endpoints` builds its
routes, so the families cannot drift apart. The API document writes path parameters as `:agentId`; they
are ordinary path parameters here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from inkeep_runtime.errors import Conflict, NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.ids import new_id
from inkeep_runtime.manage.components import ArtifactComponentRead, DataComponentRead
from inkeep_runtime.manage.crud import (
    PROJECT_PREFIX,
    Reference,
    check_references,
    list_envelope,
    project_scope,
    require_project,
)
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope, ListEnvelope, ListQuery, RequestModel, ResourceId
from inkeep_runtime.manage.tool_relations import ToolRelationRead
from inkeep_runtime.store.rows import Rows, Scope

__all__ = [
    "ARTIFACT_COMPONENT_LINKS",
    "DATA_COMPONENT_LINKS",
    "ArtifactComponentLinkCreate",
    "ArtifactComponentLinkRead",
    "ComponentAgentRead",
    "ComponentLink",
    "DataComponentLinkCreate",
    "DataComponentLinkRead",
    "LinkExists",
    "LinkRemoved",
    "endpoints",
    "link_endpoints",
]


class DataComponentLinkCreate(RequestModel):
    """Body of `POST /agent-data-components` (an id is generated when none is given)."""

    id: ResourceId | None = None
    agent_id: ResourceId
    data_component_id: ResourceId


class DataComponentLinkRead(ApiModel):
    """An agent-data component association as returned."""

    id: str
    agent_id: str
    data_component_id: str
    created_at: str


class ArtifactComponentLinkCreate(RequestModel):
    """Body of `POST /agent-artifact-components` (an id is generated when none is given)."""

    id: ResourceId | None = None
    agent_id: ResourceId
    artifact_component_id: ResourceId


class ArtifactComponentLinkRead(ApiModel):
    """An agent-artifact component association as returned."""

    id: str
    agent_id: str
    artifact_component_id: str
    created_at: str


class ComponentAgentRead(ApiModel):
    """One agent that uses a component."""

    agent_id: str
    created_at: str


class LinkRemoved(ApiModel):
    """Result of removing an association."""

    message: str
    removed: bool


class LinkExists(ApiModel):
    """Whether an association exists."""

    exists: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentLink:
    """One family of agent-component associations."""

    path: str
    """URL segment below the project, e.g. `agent-data-components`."""
    kind: str
    """Association table."""
    component: Reference
    """The component column, its table and label (e.g. `data_component_id`, `data_components`)."""
    param: str
    """Path parameter naming the component, e.g. `dataComponentId`."""
    noun: str
    """Plural for summaries, e.g. `Data Components`."""
    tag: str
    create: type[RequestModel]
    read: type[ApiModel]
    component_read: type[ApiModel]


DATA_COMPONENT_LINKS = ComponentLink(
    path="agent-data-components",
    kind="agent_data_components",
    component=Reference("data_component_id", "data_components", "Data component"),
    param="dataComponentId",
    noun="Data Component",
    tag="Agent Data Components",
    create=DataComponentLinkCreate,
    read=DataComponentLinkRead,
    component_read=DataComponentRead,
)
ARTIFACT_COMPONENT_LINKS = ComponentLink(
    path="agent-artifact-components",
    kind="agent_artifact_components",
    component=Reference("artifact_component_id", "artifact_components", "Artifact component"),
    param="artifactComponentId",
    noun="Artifact Component",
    tag="Agent Artifact Components",
    create=ArtifactComponentLinkCreate,
    read=ArtifactComponentLinkRead,
    component_read=ArtifactComponentRead,
)
_AGENT = Reference("agent_id", "agents", "Agent")


def _dump(model: type[BaseModel], row: dict[str, Any]) -> dict[str, Any]:
    return model.model_validate(row).model_dump(mode="json", by_alias=True)


async def _require(rows: Rows, scope: Scope, reference: Reference, row_id: str) -> None:
    if await rows.get(reference.kind, scope, row_id) is None:
        msg = f"{reference.label} '{row_id}' does not exist in project '{scope.project_id}'."
        raise NotFound(msg)


def link_endpoints(link: ComponentLink) -> list[Endpoint]:
    """The five association routes of one component family."""
    base = f"{PROJECT_PREFIX}/{link.path}"
    column, label = link.component.column, link.component.label
    pair = f"{base}/agent/{{agentId}}/component/{{{link.param}}}"

    async def components_of_agent(call: Call) -> Any:
        scope, agent_id = project_scope(call), call.path["agentId"]
        async with call.services.store.read() as session:
            rows = Rows(session)
            await _require(rows, scope, _AGENT, agent_id)
            links = await rows.find(link.kind, scope, agent_id=agent_id)
            found = await rows.find(link.component.kind, scope, id=[row[column] for row in links])
        by_id = {row["id"]: row for row in found}
        return {"data": [_dump(link.component_read, by_id[row[column]]) for row in links if row[column] in by_id]}

    async def agents_of_component(call: Call) -> Any:
        scope, component_id = project_scope(call), call.path[link.param]
        async with call.services.store.read() as session:
            rows = Rows(session)
            await _require(rows, scope, link.component, component_id)
            links = await rows.find(link.kind, scope, **{column: component_id})
        return {"data": [_dump(ComponentAgentRead, row) for row in links]}

    async def associate(call: Call) -> Any:
        scope = project_scope(call)
        values = call.body.values()
        values["id"] = values.get("id") or new_id()
        async with call.services.store.write(scope.key) as session:
            rows = Rows(session)
            await require_project(rows, scope)
            await check_references(rows, scope, (_AGENT, link.component), values)
            if await rows.count(link.kind, scope, agent_id=values["agent_id"], **{column: values[column]}):
                msg = f"Agent '{values['agent_id']}' is already associated with {label.lower()} '{values[column]}'."
                raise Conflict(msg)
            row = await rows.insert(link.kind, scope, values, label=f"Agent {label.lower()} association")
        call.services.changed(scope)
        return {"data": _dump(link.read, row)}

    async def remove(call: Call) -> Any:
        scope = project_scope(call)
        agent_id, component_id = call.path["agentId"], call.path[link.param]
        what = f"{label} '{component_id}'"
        async with call.services.store.write(scope.key) as session:
            removed = await Rows(session).delete(
                link.kind, scope, label=f"The association of {what}", agent_id=agent_id, **{column: component_id}
            )
        if not removed:
            msg = f"Agent '{agent_id}' has no association with {label.lower()} '{component_id}'."
            raise NotFound(msg)
        call.services.changed(scope)
        return {"message": f"{what} removed from agent '{agent_id}'.", "removed": True}

    async def exists(call: Call) -> Any:
        scope = project_scope(call)
        async with call.services.store.read() as session:
            rows = Rows(session)
            await require_project(rows, scope)
            count = await rows.count(link.kind, scope, agent_id=call.path["agentId"], **{column: call.path[link.param]})
        return {"exists": count > 0}

    noun, tag = link.noun, link.tag
    components_envelope: Any = DataEnvelope[list[link.component_read]]  # type: ignore[name-defined]
    link_envelope: Any = DataEnvelope[link.read]  # type: ignore[name-defined]
    return [
        Endpoint(
            method="GET",
            path=f"{base}/agent/{{agentId}}",
            summary=f"Get {noun}s for Agent",
            handler=components_of_agent,
            tag=tag,
            response=components_envelope,
        ),
        Endpoint(
            method="GET",
            path=f"{base}/component/{{{link.param}}}/agents",
            summary=f"Get Agents Using {noun}",
            handler=agents_of_component,
            tag=tag,
            response=DataEnvelope[list[ComponentAgentRead]],
        ),
        Endpoint(
            method="POST",
            path=base,
            summary=f"Associate {noun} with Agent",
            handler=associate,
            tag=tag,
            body=link.create,
            response=link_envelope,
            status=201,
            errors=(400, 401, 404, 409, 413),
        ),
        Endpoint(
            method="DELETE",
            path=pair,
            summary=f"Remove {noun} from Agent",
            handler=remove,
            tag=tag,
            response=LinkRemoved,
        ),
        Endpoint(
            method="GET",
            path=f"{pair}/exists",
            summary=f"Check if {noun} is Associated with Agent",
            handler=exists,
            tag=tag,
            response=LinkExists,
        ),
    ]


async def _tools_of_agent(call: Call) -> Any:
    return await _relation_page(call, _AGENT, "agent_id", call.path["agentId"])


async def _agents_of_tool(call: Call) -> Any:
    return await _relation_page(call, Reference("tool_id", "tools", "Tool"), "tool_id", call.path["toolId"])


async def _relation_page(call: Call, owner: Reference, column: str, owner_id: str) -> Any:
    scope, query = project_scope(call), call.query
    async with call.services.store.read() as session:
        rows = Rows(session)
        await _require(rows, scope, owner, owner_id)
        found, total = await rows.page(
            "agent_tool_relations", scope, page=query.page, limit=query.limit, filters={column: owner_id}
        )
    items = [_dump(ToolRelationRead, row) for row in found]
    return list_envelope(items, page=query.page, limit=query.limit, total=total)


def endpoints() -> list[Endpoint]:
    """The association routes of both component families and the two tool-relation views."""
    relations = f"{PROJECT_PREFIX}/agent-tool-relations"
    tag = "Agent Tool Relations"
    return [
        *link_endpoints(ARTIFACT_COMPONENT_LINKS),
        *link_endpoints(DATA_COMPONENT_LINKS),
        Endpoint(
            method="GET",
            path=f"{relations}/agent/{{agentId}}/tools",
            summary="Get Tools for Agent",
            handler=_tools_of_agent,
            tag=tag,
            query=ListQuery,
            response=ListEnvelope[ToolRelationRead],
        ),
        Endpoint(
            method="GET",
            path=f"{relations}/tool/{{toolId}}/agents",
            summary="Get Agents for Tool",
            handler=_agents_of_tool,
            tag=tag,
            query=ListQuery,
            response=ListEnvelope[ToolRelationRead],
        ),
    ]
