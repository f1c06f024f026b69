"""Agents through the CRUD API: the generic resource behaviour, exercised on one family."""

from __future__ import annotations

import httpx


async def test_create_then_get_returns_the_agent(client: httpx.AsyncClient, project: str) -> None:
    body = {
        "id": "router",
        "name": "Router",
        "description": "Routes",
        "instructions": "Route well.",
        "conversationHistoryConfig": {"mode": "scoped", "limit": 20},
        "modelSettings": {"model": "openai/gpt-4o"},
    }
    created = await client.post(f"{project}/agents", json=body)
    assert created.status_code == 201
    fetched = await client.get(f"{project}/agents/router")
    assert fetched.status_code == 200
    data = fetched.json()["data"]
    assert data == created.json()["data"]
    assert {k: data[k] for k in body} == body
    assert data["createdAt"].endswith("Z")


async def test_duplicate_id_is_409(client: httpx.AsyncClient, project: str) -> None:
    body = {"id": "a", "name": "A", "instructions": "x"}
    assert (await client.post(f"{project}/agents", json=body)).status_code == 201
    again = await client.post(f"{project}/agents", json=body)
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert "'a' already exists" in again.json()["detail"]


async def test_invalid_body_names_each_field(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post(f"{project}/agents", json={"id": "bad id", "nmae": "x"})
    assert response.status_code == 400
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in body["errors"]} == {"id", "name", "instructions", "nmae"}
    assert body["error"] == {"code": "bad_request", "message": body["detail"]}
    assert body["requestId"].startswith("req_")
    assert body["instance"] == f"{project}/agents"


async def test_update_changes_only_given_fields(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    response = await client.put(f"{project}/agents/a", json={"instructions": "y"})
    assert response.status_code == 200
    assert response.json()["data"]["name"] == "A"
    assert response.json()["data"]["instructions"] == "y"


async def test_unknown_agent_is_404_everywhere(client: httpx.AsyncClient, project: str) -> None:
    for method in ("GET", "DELETE"):
        assert (await client.request(method, f"{project}/agents/nope")).status_code == 404
    assert (await client.put(f"{project}/agents/nope", json={"name": "x"})).status_code == 404


async def test_agents_of_unknown_project_are_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/tenants/t1/crud/projects/missing/agents")
    assert response.status_code == 404
    assert "Project 'missing'" in response.json()["detail"]
