"""Agent relations: references are checked, exactly one target, list filters, cascades."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.manage.families import seed


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str) -> str:
    """Agents a, b, c, graphs g and h, external agent e."""
    await seed(client, project)
    await client.post(f"{project}/agents", json={"id": "c", "name": "C", "instructions": "x"})
    await client.post(f"{project}/agent-graphs", json={"id": "h", "name": "H"})
    response = await client.post(
        f"{project}/external-agents", json={"id": "e", "name": "E", "baseUrl": "https://e.test"}
    )
    assert response.status_code == 201
    return project


async def _relate(client: httpx.AsyncClient, project: str, **fields: Any) -> httpx.Response:
    body = {"graphId": "g", "sourceAgentId": "a", **fields}
    return await client.post(f"{project}/agent-relations", json=body)


async def test_create_without_id_generates_one(client: httpx.AsyncClient, seeded: str) -> None:
    response = await _relate(client, seeded, targetAgentId="b")
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["id"]
    assert data["relationType"] == "transfer"
    assert (await client.get(f"{seeded}/agent-relations/{data['id']}")).status_code == 200


async def test_relation_to_external_agent(client: httpx.AsyncClient, seeded: str) -> None:
    response = await _relate(client, seeded, externalAgentId="e", relationType="delegate")
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["targetAgentId"], data["externalAgentId"], data["relationType"]) == (None, "e", "delegate")


@pytest.mark.parametrize("targets", [{}, {"targetAgentId": "b", "externalAgentId": "e"}], ids=["neither", "both"])
async def test_create_needs_exactly_one_target(client: httpx.AsyncClient, seeded: str, targets: dict[str, str]) -> None:
    response = await _relate(client, seeded, **targets)
    assert response.status_code == 400
    assert "Exactly one of targetAgentId and externalAgentId" in response.text


async def test_unknown_relation_type_is_400(client: httpx.AsyncClient, seeded: str) -> None:
    response = await _relate(client, seeded, targetAgentId="b", relationType="handoff")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["relationType"]


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("graphId", {"graphId": "nope", "targetAgentId": "b"}),
        ("sourceAgentId", {"sourceAgentId": "nope", "targetAgentId": "b"}),
        ("targetAgentId", {"targetAgentId": "nope"}),
        ("externalAgentId", {"externalAgentId": "nope"}),
    ],
)
async def test_missing_reference_is_400_naming_the_field(
    client: httpx.AsyncClient, seeded: str, field: str, fields: dict[str, str]
) -> None:
    response = await _relate(client, seeded, **fields)
    assert response.status_code == 400
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert "'nope' does not exist" in body["detail"]
    assert (await client.get(f"{seeded}/agent-relations")).json()["pagination"]["total"] == 0


async def test_every_missing_reference_is_named(client: httpx.AsyncClient, seeded: str) -> None:
    response = await _relate(client, seeded, graphId="x", sourceAgentId="y", targetAgentId="z")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"graphId", "sourceAgentId", "targetAgentId"}


async def test_update_to_missing_reference_is_400(client: httpx.AsyncClient, seeded: str) -> None:
    await _relate(client, seeded, id="r", targetAgentId="b")
    response = await client.put(f"{seeded}/agent-relations/r", json={"targetAgentId": "nope"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["targetAgentId"]
    assert (await client.get(f"{seeded}/agent-relations/r")).json()["data"]["targetAgentId"] == "b"


async def test_update_adding_second_target_is_400(client: httpx.AsyncClient, seeded: str) -> None:
    await _relate(client, seeded, id="r", targetAgentId="b")
    response = await client.put(f"{seeded}/agent-relations/r", json={"externalAgentId": "e"})
    assert response.status_code == 400
    assert (await client.get(f"{seeded}/agent-relations/r")).json()["data"]["externalAgentId"] is None


async def test_update_can_switch_to_external_target(client: httpx.AsyncClient, seeded: str) -> None:
    await _relate(client, seeded, id="r", targetAgentId="b")
    response = await client.put(f"{seeded}/agent-relations/r", json={"targetAgentId": None, "externalAgentId": "e"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["targetAgentId"], data["externalAgentId"]) == (None, "e")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sourceAgentId=a", ["r1", "r2", "r3"]),
        ("sourceAgentId=b", ["r4"]),
        ("targetAgentId=b", ["r1"]),
        ("externalAgentId=e", ["r3"]),
        ("graphId=h", ["r4"]),
        ("graphId=g&targetAgentId=c", ["r2"]),
        ("relationType=delegate", ["r3"]),
        ("sourceAgentId=nobody", []),
    ],
)
async def test_list_filters(client: httpx.AsyncClient, seeded: str, query: str, expected: list[str]) -> None:
    await _relate(client, seeded, id="r1", targetAgentId="b")
    await _relate(client, seeded, id="r2", targetAgentId="c")
    await _relate(client, seeded, id="r3", externalAgentId="e", relationType="delegate")
    await _relate(client, seeded, id="r4", graphId="h", sourceAgentId="b", targetAgentId="c")
    response = await client.get(f"{seeded}/agent-relations?{query}")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["data"]] == expected
    assert response.json()["pagination"]["total"] == len(expected)


@pytest.mark.parametrize("agent", ["b", "c"], ids=["source", "target"])
async def test_deleting_an_agent_deletes_its_relations(client: httpx.AsyncClient, seeded: str, agent: str) -> None:
    await _relate(client, seeded, id="r1", graphId="h", sourceAgentId="b", targetAgentId="c")
    await _relate(client, seeded, id="r2", graphId="h", targetAgentId="a")
    assert (await client.delete(f"{seeded}/agents/{agent}")).status_code == 204
    remaining = (await client.get(f"{seeded}/agent-relations")).json()["data"]
    assert [r["id"] for r in remaining] == ["r2"]


async def test_deleting_an_external_agent_deletes_its_relations(client: httpx.AsyncClient, seeded: str) -> None:
    await _relate(client, seeded, id="r1", externalAgentId="e")
    assert (await client.delete(f"{seeded}/external-agents/e")).status_code == 204
    assert (await client.get(f"{seeded}/agent-relations/r1")).status_code == 404


async def test_deleting_a_graph_deletes_its_relations(client: httpx.AsyncClient, seeded: str) -> None:
    await _relate(client, seeded, id="r1", graphId="h", targetAgentId="b")
    await _relate(client, seeded, id="r2", targetAgentId="b")
    assert (await client.delete(f"{seeded}/agent-graphs/h")).status_code == 204
    remaining = (await client.get(f"{seeded}/agent-relations")).json()["data"]
    assert [r["id"] for r in remaining] == ["r2"]
