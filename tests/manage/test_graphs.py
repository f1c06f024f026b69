"""Agent graphs: references to the default agent and context config, and what they protect."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str) -> str:
    """Agent a and context config c."""
    agent = {"id": "a", "name": "A", "instructions": "x"}
    assert (await client.post(f"{project}/agents", json=agent)).status_code == 201
    assert (await client.post(f"{project}/context-configs", json={"id": "c", "name": "C"})).status_code == 201
    return project


async def test_create_with_references_and_settings(client: httpx.AsyncClient, seeded: str) -> None:
    body = {
        "id": "g",
        "name": "G",
        "description": "d",
        "defaultAgentId": "a",
        "contextConfigId": "c",
        "modelSettings": {"model": "openai/gpt-4o-mini", "providerOptions": {"temperature": 0}},
        "stopWhen": {"transferCountIs": 3},
        "statusUpdates": {"enabled": True, "numEvents": 2},
    }
    response = await client.post(f"{seeded}/agent-graphs", json=body)
    assert response.status_code == 201
    data = response.json()["data"]
    assert {k: data[k] for k in body} == body


@pytest.mark.parametrize(("field", "value"), [("defaultAgentId", "ghost"), ("contextConfigId", "ghost")])
async def test_create_with_missing_reference_is_400(
    client: httpx.AsyncClient, seeded: str, field: str, value: str
) -> None:
    response = await client.post(f"{seeded}/agent-graphs", json={"id": "g", "name": "G", field: value})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get(f"{seeded}/agent-graphs/g")).status_code == 404


@pytest.mark.parametrize("field", ["defaultAgentId", "contextConfigId"])
async def test_update_to_missing_reference_is_400(client: httpx.AsyncClient, seeded: str, field: str) -> None:
    await client.post(f"{seeded}/agent-graphs", json={"id": "g", "name": "G"})
    response = await client.put(f"{seeded}/agent-graphs/g", json={field: "ghost"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_update_can_clear_the_default_agent(client: httpx.AsyncClient, seeded: str) -> None:
    await client.post(f"{seeded}/agent-graphs", json={"id": "g", "name": "G", "defaultAgentId": "a"})
    response = await client.put(f"{seeded}/agent-graphs/g", json={"defaultAgentId": None})
    assert response.status_code == 200
    assert response.json()["data"]["defaultAgentId"] is None


async def test_deleting_the_default_agent_is_409(client: httpx.AsyncClient, seeded: str) -> None:
    await client.post(f"{seeded}/agent-graphs", json={"id": "g", "name": "G", "defaultAgentId": "a"})
    response = await client.delete(f"{seeded}/agents/a")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert (await client.get(f"{seeded}/agents/a")).status_code == 200


async def test_default_agent_can_be_deleted_after_the_graph(client: httpx.AsyncClient, seeded: str) -> None:
    await client.post(f"{seeded}/agent-graphs", json={"id": "g", "name": "G", "defaultAgentId": "a"})
    assert (await client.delete(f"{seeded}/agent-graphs/g")).status_code == 204
    assert (await client.delete(f"{seeded}/agents/a")).status_code == 204


async def test_deleting_a_used_context_config_is_409(client: httpx.AsyncClient, seeded: str) -> None:
    await client.post(f"{seeded}/agent-graphs", json={"id": "g", "name": "G", "contextConfigId": "c"})
    response = await client.delete(f"{seeded}/context-configs/c")
    assert response.status_code == 409
    assert (await client.get(f"{seeded}/context-configs/c")).status_code == 200


@pytest.mark.parametrize("extra", [{"stopWhen": {"transferCountIs": 0}}, {"modelSettings": {"modle": "x"}}])
async def test_invalid_settings_are_400(client: httpx.AsyncClient, seeded: str, extra: dict[str, object]) -> None:
    response = await client.post(f"{seeded}/agent-graphs", json={"id": "g", "name": "G", **extra})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith(next(iter(extra)))
