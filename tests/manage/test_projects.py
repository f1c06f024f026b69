"""Projects: the tenant-level container, updated with PATCH and deletable only once empty."""

from __future__ import annotations

import httpx
import pytest

PROJECTS = "/tenants/t1/crud/projects"
BODY = {"id": "p2", "name": "P2", "description": "Second"}


async def test_create_returns_201_with_the_project(client: httpx.AsyncClient) -> None:
    response = await client.post(PROJECTS, json=BODY)
    assert response.status_code == 201
    data = response.json()["data"]
    assert set(data) == {"id", "name", "description", "createdAt", "updatedAt"}
    assert {k: data[k] for k in BODY} == BODY


async def test_get_returns_the_project(client: httpx.AsyncClient) -> None:
    created = await client.post(PROJECTS, json=BODY)
    fetched = await client.get(f"{PROJECTS}/p2")
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


async def test_list_returns_projects_oldest_first_with_pagination(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await client.post(PROJECTS, json={"id": f"p{n}", "name": "P", "description": "d"})
    response = await client.get(PROJECTS)
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["data"]] == ["p0", "p1", "p2"]
    assert response.json()["pagination"] == {"page": 1, "limit": 10, "total": 3, "pages": 1}


async def test_list_of_a_tenant_without_projects_is_empty(client: httpx.AsyncClient) -> None:
    response = await client.get("/tenants/nobody/crud/projects")
    assert response.status_code == 200
    assert response.json() == {"data": [], "pagination": {"page": 1, "limit": 10, "total": 0, "pages": 0}}


async def test_patch_changes_only_given_fields(client: httpx.AsyncClient) -> None:
    await client.post(PROJECTS, json=BODY)
    response = await client.patch(f"{PROJECTS}/p2", json={"description": "Changed"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["name"], data["description"]) == ("P2", "Changed")
    assert (await client.get(f"{PROJECTS}/p2")).json()["data"] == data


async def test_patch_with_empty_body_returns_the_project(client: httpx.AsyncClient) -> None:
    created = await client.post(PROJECTS, json=BODY)
    response = await client.patch(f"{PROJECTS}/p2", json={})
    assert response.status_code == 200
    assert response.json() == created.json()


async def test_patch_null_name_is_400_and_keeps_the_name(client: httpx.AsyncClient) -> None:
    await client.post(PROJECTS, json=BODY)
    response = await client.patch(f"{PROJECTS}/p2", json={"name": None})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["name"]
    assert (await client.get(f"{PROJECTS}/p2")).json()["data"]["name"] == "P2"


async def test_put_is_405(client: httpx.AsyncClient) -> None:
    await client.post(PROJECTS, json=BODY)
    response = await client.put(f"{PROJECTS}/p2", json={"name": "x"})
    assert response.status_code == 405


@pytest.mark.parametrize("field", ["name", "description"])
async def test_empty_required_string_is_400(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post(PROJECTS, json={**BODY, field: ""})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_missing_fields_are_each_named(client: httpx.AsyncClient) -> None:
    response = await client.post(PROJECTS, json={})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"id", "name", "description"}


async def test_duplicate_id_is_409(client: httpx.AsyncClient) -> None:
    await client.post(PROJECTS, json=BODY)
    response = await client.post(PROJECTS, json={**BODY, "name": "Other"})
    assert response.status_code == 409
    assert (await client.get(f"{PROJECTS}/p2")).json()["data"]["name"] == "P2"


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_project_is_404(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, f"{PROJECTS}/nope", json={"name": "x"} if method == "PATCH" else None)
    assert response.status_code == 404
    assert response.json()["detail"] == "Project 'nope' does not exist in tenant 't1'."


async def test_delete_empty_project_is_204_with_empty_body(client: httpx.AsyncClient) -> None:
    await client.post(PROJECTS, json=BODY)
    response = await client.delete(f"{PROJECTS}/p2")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{PROJECTS}/p2")).status_code == 404


async def test_delete_project_with_resources_is_409_naming_them(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    await client.post(f"{project}/context-configs", json={"id": "c", "name": "C"})
    response = await client.delete(PROJECTS + "/p1")
    assert response.status_code == 409
    body = response.json()
    assert body["resources"] == {"agents": 1, "context_configs": 1}
    assert "still has resources" in body["detail"]
    assert (await client.get(f"{project}/agents/a")).status_code == 200


async def test_delete_project_succeeds_once_emptied(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    assert (await client.delete(PROJECTS + "/p1")).status_code == 409
    assert (await client.delete(f"{project}/agents/a")).status_code == 204
    assert (await client.delete(PROJECTS + "/p1")).status_code == 204


async def test_recreated_project_starts_empty(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    await client.delete(f"{project}/agents/a")
    await client.delete(PROJECTS + "/p1")
    assert (await client.post(PROJECTS, json={"id": "p1", "name": "P1", "description": "again"})).status_code == 201
    assert (await client.get(f"{project}/agents")).json()["pagination"]["total"] == 0
