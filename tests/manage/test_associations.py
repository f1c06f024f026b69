"""Agent-component associations, the per-agent and per-tool tool-relation views, and related agents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

# Both component families share one implementation; every behaviour is checked on both.
FAMILIES = [
    pytest.param(
        (
            "agent-data-components",
            "data-components",
            "dataComponentId",
            {"name": "Card", "description": "A card", "props": {"type": "object"}},
        ),
        id="data",
    ),
    pytest.param(
        (
            "agent-artifact-components",
            "artifact-components",
            "artifactComponentId",
            {"name": "Doc", "description": "A doc", "summaryProps": {"type": "object"}},
        ),
        id="artifact",
    ),
]
Family = tuple[str, str, str, dict[str, Any]]


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.fixture
async def agents(client: httpx.AsyncClient, project: str) -> str:
    """Agents `a1`, `a2` in project `p1`; return the project base path."""
    for agent_id in ("a1", "a2"):
        await _post(client, f"{project}/agents", {"id": agent_id, "name": agent_id.upper(), "instructions": "x"})
    return project


async def _components(client: httpx.AsyncClient, project: str, family: Family, *ids: str) -> list[dict[str, Any]]:
    _, components, _, body = family
    return [await _post(client, f"{project}/{components}", {"id": cid, **body}) for cid in ids]


@pytest.mark.parametrize("family", FAMILIES)
async def test_associate_then_list_both_ways(client: httpx.AsyncClient, agents: str, family: Family) -> None:
    links, _, param, _ = family
    created = await _components(client, agents, family, "c1", "c2")
    first = await _post(client, f"{agents}/{links}", {"id": "l1", "agentId": "a1", param: "c2"})
    assert set(first) == {"id", "agentId", param, "createdAt"}
    assert (first["id"], first["agentId"], first[param]) == ("l1", "a1", "c2")
    second = await _post(client, f"{agents}/{links}", {"agentId": "a1", param: "c1"})
    assert second["id"]
    await _post(client, f"{agents}/{links}", {"agentId": "a2", param: "c2"})

    of_agent = await client.get(f"{agents}/{links}/agent/a1")
    assert of_agent.status_code == 200
    assert of_agent.json() == {"data": [created[1], created[0]]}  # full component objects, association order
    of_component = await client.get(f"{agents}/{links}/component/c2/agents")
    assert [item["agentId"] for item in of_component.json()["data"]] == ["a1", "a2"]
    assert set(of_component.json()["data"][0]) == {"agentId", "createdAt"}
    assert (await client.get(f"{agents}/{links}/component/c1/agents")).json()["data"][0]["agentId"] == "a1"
    assert (await client.get(f"{agents}/{links}/agent/a2")).json() == {"data": [created[1]]}


@pytest.mark.parametrize("family", FAMILIES)
async def test_lists_of_unknown_agent_or_component_are_404(
    client: httpx.AsyncClient, agents: str, family: Family
) -> None:
    links = family[0]
    missing_agent = await client.get(f"{agents}/{links}/agent/nope")
    assert missing_agent.status_code == 404
    assert "Agent 'nope'" in missing_agent.json()["detail"]
    missing_component = await client.get(f"{agents}/{links}/component/nope/agents")
    assert missing_component.status_code == 404
    assert "component 'nope'" in missing_component.json()["detail"]


@pytest.mark.parametrize("family", FAMILIES)
async def test_associate_rejects_unknown_references(client: httpx.AsyncClient, agents: str, family: Family) -> None:
    links, _, param, _ = family
    response = await client.post(f"{agents}/{links}", json={"agentId": "ghost", param: "none"})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"agentId", param}
    invalid = await client.post(f"{agents}/{links}", json={"agentId": "bad id"})
    assert {e["field"] for e in invalid.json()["errors"]} == {"agentId", param}


@pytest.mark.parametrize("family", FAMILIES)
async def test_duplicate_association_is_409(client: httpx.AsyncClient, agents: str, family: Family) -> None:
    links, _, param, _ = family
    await _components(client, agents, family, "c1")
    await _post(client, f"{agents}/{links}", {"id": "l1", "agentId": "a1", param: "c1"})
    again = await client.post(f"{agents}/{links}", json={"agentId": "a1", param: "c1"})
    assert again.status_code == 409
    assert "already associated" in again.json()["detail"]
    same_id = await client.post(f"{agents}/{links}", json={"id": "l1", "agentId": "a2", param: "c1"})
    assert same_id.status_code == 409


@pytest.mark.parametrize("family", FAMILIES)
async def test_remove_and_exists(client: httpx.AsyncClient, agents: str, family: Family) -> None:
    links, _, param, _ = family
    await _components(client, agents, family, "c1")
    await _post(client, f"{agents}/{links}", {"agentId": "a1", param: "c1"})
    pair = f"{agents}/{links}/agent/a1/component/c1"
    assert (await client.get(f"{pair}/exists")).json() == {"exists": True}
    assert (await client.get(f"{agents}/{links}/agent/a2/component/c1/exists")).json() == {"exists": False}
    removed = await client.delete(pair)
    assert removed.status_code == 200
    assert removed.json()["removed"] is True
    assert "removed from agent 'a1'" in removed.json()["message"]
    assert (await client.get(f"{pair}/exists")).json() == {"exists": False}
    again = await client.delete(pair)
    assert again.status_code == 404
    assert "has no association" in again.json()["detail"]


@pytest.mark.parametrize("family", FAMILIES)
async def test_unknown_project_is_404(client: httpx.AsyncClient, family: Family) -> None:
    links, _, param, _ = family
    base = f"/tenants/t1/crud/projects/missing/{links}"
    assert (await client.post(base, json={"agentId": "a1", param: "c1"})).status_code == 404
    assert (await client.get(f"{base}/agent/a1/component/c1/exists")).status_code == 404


async def test_association_routes_appear_in_openapi(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    base = "/tenants/{tenantId}/crud/projects/{projectId}"
    for links, param in (
        ("agent-data-components", "dataComponentId"),
        ("agent-artifact-components", "artifactComponentId"),
    ):
        assert f"{base}/{links}" in paths
        assert f"{base}/{links}/agent/{{agentId}}" in paths
        assert f"{base}/{links}/component/{{{param}}}/agents" in paths
        assert set(paths[f"{base}/{links}/agent/{{agentId}}/component/{{{param}}}"]) == {"delete"}
        assert f"{base}/{links}/agent/{{agentId}}/component/{{{param}}}/exists" in paths
    assert f"{base}/agent-tool-relations/agent/{{agentId}}/tools" in paths
    assert f"{base}/agent-tool-relations/tool/{{toolId}}/agents" in paths
    assert f"{base}/agent-graphs/{{graphId}}/agents/{{agentId}}/related" in paths


# --- agent-tool relation views ------------------------------------------------------------------------------

TOOL = {"name": "T", "config": {"type": "mcp", "mcp": {"server": {"url": "http://127.0.0.1:1/mcp"}}}}


@pytest.fixture
async def tool_relations(client: httpx.AsyncClient, agents: str) -> str:
    """Tools `t1`, `t2`; relations a1→t1 (`agent`), a1→t2, a2→t1."""
    for tool_id in ("t1", "t2"):
        await _post(client, f"{agents}/tools", {"id": tool_id, **TOOL})
    for relation_id, agent_id, tool_id in (("agent", "a1", "t1"), ("r2", "a1", "t2"), ("r3", "a2", "t1")):
        body = {"id": relation_id, "agentId": agent_id, "toolId": tool_id}
        await _post(client, f"{agents}/agent-tool-relations", body)
    return agents


async def test_tools_of_agent_are_paginated(client: httpx.AsyncClient, tool_relations: str) -> None:
    response = await client.get(f"{tool_relations}/agent-tool-relations/agent/a1/tools", params={"limit": 1, "page": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"page": 2, "limit": 1, "total": 2, "pages": 2}
    assert [(r["id"], r["agentId"], r["toolId"]) for r in body["data"]] == [("r2", "a1", "t2")]
    assert set(body["data"][0]) >= {"id", "agentId", "toolId", "createdAt", "updatedAt"}


async def test_agents_of_tool(client: httpx.AsyncClient, tool_relations: str) -> None:
    body = (await client.get(f"{tool_relations}/agent-tool-relations/tool/t1/agents")).json()
    assert [r["agentId"] for r in body["data"]] == ["a1", "a2"]
    assert body["pagination"]["total"] == 2
    empty = (await client.get(f"{tool_relations}/agent-tool-relations/tool/t2/agents", params={"page": 5})).json()
    assert empty["data"] == []


async def test_tool_relation_views_of_unknown_owner_are_404(client: httpx.AsyncClient, tool_relations: str) -> None:
    assert (await client.get(f"{tool_relations}/agent-tool-relations/agent/nope/tools")).status_code == 404
    assert (await client.get(f"{tool_relations}/agent-tool-relations/tool/nope/agents")).status_code == 404


async def test_relation_with_id_agent_is_still_reachable_by_id(client: httpx.AsyncClient, tool_relations: str) -> None:
    response = await client.get(f"{tool_relations}/agent-tool-relations/agent")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == "agent"


# --- related agents -----------------------------------------------------------------------------------------


@pytest.fixture
async def graph(client: httpx.AsyncClient, agents: str) -> str:
    """Graph `g1` where a1 transfers to a2 and delegates to external agent `x1`; g2 has a1 → a2 too."""
    await _post(client, f"{agents}/agents", {"id": "a3", "name": "A3", "instructions": "x"})
    await _post(
        client,
        f"{agents}/external-agents",
        {"id": "x1", "name": "X1", "description": "Remote", "baseUrl": "http://127.0.0.1:1"},
    )
    for graph_id in ("g1", "g2"):
        await _post(client, f"{agents}/agent-graphs", {"id": graph_id, "name": graph_id})
    for body in (
        {"graphId": "g1", "sourceAgentId": "a1", "targetAgentId": "a2", "relationType": "transfer"},
        {"graphId": "g1", "sourceAgentId": "a1", "externalAgentId": "x1", "relationType": "delegate"},
        {"graphId": "g1", "sourceAgentId": "a2", "targetAgentId": "a3", "relationType": "transfer"},
        {"graphId": "g2", "sourceAgentId": "a1", "targetAgentId": "a3", "relationType": "delegate"},
    ):
        await _post(client, f"{agents}/agent-relations", body)
    return f"{agents}/agent-graphs/g1"


async def test_related_lists_internal_and_external_targets(client: httpx.AsyncClient, graph: str) -> None:
    response = await client.get(f"{graph}/agents/a1/related")
    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {"id": "a2", "name": "A2", "description": "", "relationType": "transfer", "type": "internal"},
            {"id": "x1", "name": "X1", "description": "Remote", "relationType": "delegate", "type": "external"},
        ],
        "pagination": {"page": 1, "limit": 10, "total": 2, "pages": 1},
    }


async def test_related_is_paginated(client: httpx.AsyncClient, graph: str) -> None:
    body = (await client.get(f"{graph}/agents/a1/related", params={"limit": 1, "page": 2})).json()
    assert [item["id"] for item in body["data"]] == ["x1"]
    assert body["pagination"] == {"page": 2, "limit": 1, "total": 2, "pages": 2}


async def test_related_of_agent_without_relations_is_empty(client: httpx.AsyncClient, graph: str) -> None:
    assert (await client.get(f"{graph}/agents/a3/related")).json()["data"] == []


async def test_related_of_unknown_graph_or_agent_is_404(client: httpx.AsyncClient, graph: str) -> None:
    unknown_agent = await client.get(f"{graph}/agents/nope/related")
    assert unknown_agent.status_code == 404
    assert "Agent 'nope'" in unknown_agent.json()["detail"]
    unknown_graph = await client.get(graph.replace("/g1", "/nope") + "/agents/a1/related")
    assert unknown_graph.status_code == 404
    assert "Agent graph 'nope'" in unknown_graph.json()["detail"]
