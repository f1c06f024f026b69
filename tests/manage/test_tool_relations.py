"""Agent-tool relations: references, filters, uniqueness and cascades."""

from __future__ import annotations

import httpx
import pytest

from tests.manage.families import seed


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str) -> str:
    """Agents a, b; tools t and u."""
    await seed(client, project)
    config = {"mcp": {"server": {"url": "http://127.0.0.1:9/mcp"}}}
    assert (await client.post(f"{project}/tools", json={"id": "u", "name": "U", "config": config})).status_code == 201
    return project


async def _link(client: httpx.AsyncClient, project: str, link_id: str, agent: str, tool: str) -> httpx.Response:
    body = {"id": link_id, "agentId": agent, "toolId": tool}
    return await client.post(f"{project}/agent-tool-relations", json=body)


async def test_create_with_selected_tools_and_headers(client: httpx.AsyncClient, seeded: str) -> None:
    body = {"agentId": "a", "toolId": "t", "selectedTools": ["echo"], "headers": {"x-k": "v"}}
    response = await client.post(f"{seeded}/agent-tool-relations", json=body)
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["id"]
    assert {k: data[k] for k in body} == body


@pytest.mark.parametrize(("field", "agent", "tool"), [("agentId", "ghost", "t"), ("toolId", "a", "ghost")])
async def test_missing_reference_is_400(
    client: httpx.AsyncClient, seeded: str, field: str, agent: str, tool: str
) -> None:
    response = await _link(client, seeded, "l", agent, tool)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_same_agent_and_tool_twice_is_409(client: httpx.AsyncClient, seeded: str) -> None:
    assert (await _link(client, seeded, "l1", "a", "t")).status_code == 201
    response = await _link(client, seeded, "l2", "a", "t")
    assert response.status_code == 409
    assert (await client.get(f"{seeded}/agent-tool-relations/l2")).status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [("agentId=a", ["l1", "l2"]), ("toolId=u", ["l2", "l3"]), ("agentId=b&toolId=u", ["l3"]), ("agentId=z", [])],
)
async def test_list_filters(client: httpx.AsyncClient, seeded: str, query: str, expected: list[str]) -> None:
    await _link(client, seeded, "l1", "a", "t")
    await _link(client, seeded, "l2", "a", "u")
    await _link(client, seeded, "l3", "b", "u")
    response = await client.get(f"{seeded}/agent-tool-relations?{query}")
    assert [r["id"] for r in response.json()["data"]] == expected
    assert response.json()["pagination"]["total"] == len(expected)


async def test_deleting_the_tool_deletes_its_relations(client: httpx.AsyncClient, seeded: str) -> None:
    await _link(client, seeded, "l1", "a", "t")
    await _link(client, seeded, "l2", "a", "u")
    assert (await client.delete(f"{seeded}/tools/t")).status_code == 204
    assert [r["id"] for r in (await client.get(f"{seeded}/agent-tool-relations")).json()["data"]] == ["l2"]


async def test_deleting_the_agent_deletes_its_relations(client: httpx.AsyncClient, seeded: str) -> None:
    await _link(client, seeded, "l1", "b", "t")
    await _link(client, seeded, "l2", "a", "u")
    assert (await client.delete(f"{seeded}/agents/b")).status_code == 204
    assert [r["id"] for r in (await client.get(f"{seeded}/agent-tool-relations")).json()["data"]] == ["l2"]
