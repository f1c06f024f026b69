"""The full-graph API: one JSON document per graph, written atomically, plus `push` and start-up loading.

A POST or PUT is one upsert inside one write transaction (`full_graph_write.write_graph`: validation,
write order, association order); a PUT first puts the stored secrets back in place of the redacted
placeholders a GET returned. A GET reads the graph's rows back and renders the canonical document
(`read_graph`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from inkeep_runtime.errors import FieldError, InvalidRequest, NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint, validation_errors
from inkeep_runtime.manage.crud import PROJECT_PREFIX, project_scope, require_project
from inkeep_runtime.manage.full_graph_models import FullGraphDefinition, FullGraphRead, GraphRows, render_document
from inkeep_runtime.manage.full_graph_write import GraphWrite, write_graph
from inkeep_runtime.manage.schemas import DataEnvelope
from inkeep_runtime.secrets import redact, restore
from inkeep_runtime.store.rows import Rows, Scope

__all__ = ["GraphWrite", "endpoints", "read_graph", "write_graph"]

logger = logging.getLogger(__name__)

_TAG = "Full Graph"


async def _find_ids(rows: Rows, scope: Scope, kind: str, ids: Iterable[str | None]) -> list[dict[str, Any]]:
    wanted = sorted({i for i in ids if i is not None})
    return await rows.find(kind, scope, id=wanted) if wanted else []


async def _members(
    rows: Rows, scope: Scope, kind: str, graph_id: str, used: Iterable[str | None]
) -> list[dict[str, Any]]:
    """Rows the graph owns plus rows its relations use without owning them."""
    owned = await rows.find(kind, scope, graph_id=graph_id)
    known = {row["id"] for row in owned}
    return owned + await _find_ids(rows, scope, kind, (i for i in used if i not in known))


async def read_graph(rows: Rows, scope: Scope, graph_id: str) -> dict[str, Any] | None:
    """The canonical full-graph document, or None when the graph does not exist."""
    graph = await rows.get("agent_graphs", scope, graph_id)
    if graph is None:
        return None
    found = GraphRows(graph=graph, relations=await rows.find("agent_relations", scope, graph_id=graph_id))
    used = [
        graph["default_agent_id"],
        *(r["source_agent_id"] for r in found.relations),
        *(r["target_agent_id"] for r in found.relations),
    ]
    found.agents = await _members(rows, scope, "agents", graph_id, used)
    found.external_agents = await _members(
        rows, scope, "external_agents", graph_id, (r["external_agent_id"] for r in found.relations)
    )
    ids = [agent["id"] for agent in found.agents]
    if ids:
        found.tool_links = await rows.find("agent_tool_relations", scope, agent_id=ids)
        found.data_links = await rows.find("agent_data_components", scope, agent_id=ids)
        found.artifact_links = await rows.find("agent_artifact_components", scope, agent_id=ids)
    found.tools = await _find_ids(rows, scope, "tools", (row["tool_id"] for row in found.tool_links))
    found.data_components = await _find_ids(
        rows, scope, "data_components", (row["data_component_id"] for row in found.data_links)
    )
    found.artifact_components = await _find_ids(
        rows, scope, "artifact_components", (row["artifact_component_id"] for row in found.artifact_links)
    )
    context = await _find_ids(rows, scope, "context_configs", [graph["context_config_id"]])
    found.context_config = context[0] if context else None
    variables = (found.context_config or {}).get("context_variables") or {}
    found.credentials = await _find_ids(
        rows,
        scope,
        "credential_references",
        [
            *(row["credential_reference_id"] for row in [*found.tools, *found.external_agents]),
            *(variable.get("credentialReferenceId") for variable in variables.values()),
        ],
    )
    return render_document(found)


def _graph_not_found(scope: Scope, graph_id: str) -> NotFound:
    return NotFound(f"Graph '{graph_id}' does not exist in project '{scope.project_id}'.")


async def create_graph(call: Call) -> Any:
    """Create a graph and everything its document defines; 409 when the graph exists."""
    scope = project_scope(call)
    async with call.services.store.write(scope.key) as session:
        rows = Rows(session)
        await require_project(rows, scope)
        await write_graph(rows, scope, call.body, is_create_only=True)
        document = await read_graph(rows, scope, call.body.id)
    call.services.changed(scope)
    return {"data": document}


async def get_graph(call: Call) -> Any:
    """The full document of one graph."""
    scope = project_scope(call)
    async with call.services.store.read() as session:
        document = await read_graph(Rows(session), scope, call.path["graphId"])
    if document is None:
        raise _graph_not_found(scope, call.path["graphId"])
    return {"data": document}


async def update_graph(call: Call) -> Any:
    """Create or replace a graph from its document (200 when replaced, 201 when created)."""
    scope = project_scope(call)
    graph_id = call.path["graphId"]
    if call.body.id != graph_id:
        msg = f"Body id '{call.body.id}' does not match the graph id '{graph_id}' in the path."
        raise InvalidRequest(msg, [FieldError(pointer="/id", message=msg)])
    async with call.services.store.write(scope.key) as session:
        rows = Rows(session)
        await require_project(rows, scope)
        body = _with_stored_secrets(call.body, await read_graph(rows, scope, graph_id))
        outcome = await write_graph(rows, scope, body)
        document = await read_graph(rows, scope, graph_id)
    call.services.changed(scope)
    return JSONResponse(redact({"data": document}), status_code=201 if outcome.is_created else 200)


def _with_stored_secrets(doc: FullGraphDefinition, old: dict[str, Any] | None) -> FullGraphDefinition:
    """The document with redacted placeholders (from a GET) replaced by the stored secrets."""
    if old is None:
        return doc
    sent = doc.model_dump(mode="json", by_alias=True, exclude_unset=True)
    restored = restore(sent, old)
    if restored == sent:
        return doc
    try:
        return FullGraphDefinition.model_validate(restored)
    except ValidationError as exc:
        errors = validation_errors(exc)
        msg = "Invalid graph document after restoring stored secrets."
        raise InvalidRequest(msg, errors) from exc


async def delete_graph(call: Call) -> Any:
    """Delete a graph with its relations, API keys and the agents it owns (not project-level resources)."""
    scope = project_scope(call)
    graph_id = call.path["graphId"]
    async with call.services.store.write(scope.key) as session:
        rows = Rows(session)
        if not await rows.delete("agent_graphs", scope, label=f"Graph '{graph_id}'", id=graph_id):
            raise _graph_not_found(scope, graph_id)
        await rows.delete("agents", scope, label=f"An agent of graph '{graph_id}'", graph_id=graph_id)
        await rows.delete("external_agents", scope, label=f"An external agent of graph '{graph_id}'", graph_id=graph_id)
    call.services.changed(scope)
    return None


def endpoints() -> list[Endpoint]:
    """The full-graph routes."""
    base = f"{PROJECT_PREFIX}/graph"
    read = DataEnvelope[FullGraphRead]
    return [
        Endpoint(
            method="POST",
            path=base,
            summary="Create Full Graph",
            handler=create_graph,
            tag=_TAG,
            body=FullGraphDefinition,
            response=read,
            status=201,
            errors=(400, 401, 404, 409, 413),
            description="Create a complete agent graph with all agents, tools, and relationships.",
        ),
        Endpoint(
            method="GET",
            path=f"{base}/{{graphId}}",
            summary="Get Full Graph",
            handler=get_graph,
            tag=_TAG,
            response=read,
        ),
        Endpoint(
            method="PUT",
            path=f"{base}/{{graphId}}",
            summary="Update Full Graph",
            handler=update_graph,
            tag=_TAG,
            body=FullGraphDefinition,
            response=read,
            errors=(400, 401, 404, 409, 413),
            description="Update or create a complete agent graph; agents the document no longer names "
            "are deleted. Returns 201 when the graph was created.",
        ),
        Endpoint(
            method="DELETE",
            path=f"{base}/{{graphId}}",
            summary="Delete Full Graph",
            handler=delete_graph,
            tag=_TAG,
            status=204,
            errors=(401, 404, 409),
        ),
        Endpoint(
            method="GET",
            path=f"{PROJECT_PREFIX}/agent-graphs/{{graphId}}/full",
            summary="Get Full Graph Definition",
            handler=get_graph,
            tag="Agent Graphs",
            response=read,
        ),
    ]
