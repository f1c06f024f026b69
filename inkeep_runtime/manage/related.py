"""The agents one agent can hand over to inside a graph: its transfer and delegation targets."""

from __future__ import annotations

from typing import Any, Literal

from inkeep_runtime.errors import NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, list_envelope, project_scope
from inkeep_runtime.manage.schemas import ApiModel, ListEnvelope, ListQuery
from inkeep_runtime.store.rows import Rows

__all__ = ["RelatedAgentRead", "endpoints"]


class RelatedAgentRead(ApiModel):
    """An agent reachable from another by one relation (one item per relation)."""

    id: str
    name: str
    description: str
    relation_type: Literal["transfer", "delegate"]
    type: Literal["internal", "external"]


async def related_agents(call: Call) -> Any:
    """List the targets of an agent's relations in a graph, oldest relation first."""
    scope, query = project_scope(call), call.query
    graph_id, agent_id = call.path["graphId"], call.path["agentId"]
    async with call.services.store.read() as session:
        rows = Rows(session)
        if await rows.get("agent_graphs", scope, graph_id) is None:
            msg = f"Agent graph '{graph_id}' does not exist in project '{scope.project_id}'."
            raise NotFound(msg)
        if await rows.get("agents", scope, agent_id) is None:
            msg = f"Agent '{agent_id}' does not exist in project '{scope.project_id}'."
            raise NotFound(msg)
        relations, total = await rows.page(
            "agent_relations",
            scope,
            page=query.page,
            limit=query.limit,
            filters={"graph_id": graph_id, "source_agent_id": agent_id},
        )
        internal_ids = [r["target_agent_id"] for r in relations if r["target_agent_id"]]
        external_ids = [r["external_agent_id"] for r in relations if r["external_agent_id"]]
        internal = await rows.find("agents", scope, id=internal_ids)
        external = await rows.find("external_agents", scope, id=external_ids)
    targets = {("internal", row["id"]): row for row in internal} | {("external", row["id"]): row for row in external}
    items: list[dict[str, Any]] = []
    for relation in relations:
        kind = "internal" if relation["target_agent_id"] else "external"
        target = targets[(kind, relation["target_agent_id"] or relation["external_agent_id"])]
        items.append(
            RelatedAgentRead(
                id=target["id"],
                name=target["name"],
                description=target["description"],
                relation_type=relation["relation_type"],
                type=kind,
            ).model_dump(mode="json")
        )
    return list_envelope(items, page=query.page, limit=query.limit, total=total)


def endpoints() -> list[Endpoint]:
    """The related-agents route."""
    return [
        Endpoint(
            method="GET",
            path=f"{PROJECT_PREFIX}/agent-graphs/{{graphId}}/agents/{{agentId}}/related",
            summary="Get Related Agents",
            handler=related_agents,
            tag="Agent Graphs",
            query=ListQuery,
            response=ListEnvelope[RelatedAgentRead],
        ),
    ]
