"""Tenant and project isolation: the same ids in different scopes never see each other."""

from __future__ import annotations

import httpx
import pytest

from tests.manage.families import Family, family_params, seed

T1 = "/tenants/t1/crud/projects/p1"
T2 = "/tenants/t2/crud/projects/p1"


@pytest.fixture
async def two_tenants(client: httpx.AsyncClient, project: str) -> None:
    """Project p1 in tenants t1 (seeded) and t2 (seeded, same ids)."""
    assert project == T1
    response = await client.post("/tenants/t2/crud/projects", json={"id": "p1", "name": "Other", "description": "t2"})
    assert response.status_code == 201
    await seed(client, T1)
    await seed(client, T2)


@pytest.mark.usefixtures("two_tenants")
@pytest.mark.parametrize("family", family_params())
async def test_other_tenant_cannot_see_or_touch_the_row(client: httpx.AsyncClient, family: Family) -> None:
    created = await client.post(f"{T1}/{family.path}", json=family.body)
    assert created.status_code == 201
    url = f"{T2}/{family.path}/{family.id}"
    assert (await client.get(url)).status_code == 404
    assert (await client.request(family.method, url, json=family.update)).status_code == 404
    assert (await client.delete(url)).status_code == 404
    listed = (await client.get(f"{T2}/{family.path}")).json()["data"]
    assert family.id not in [row["id"] for row in listed]
    assert (await client.get(f"{T1}/{family.path}/{family.id}")).json() == created.json()


@pytest.mark.usefixtures("two_tenants")
@pytest.mark.parametrize("family", family_params())
async def test_same_id_coexists_in_two_tenants(client: httpx.AsyncClient, family: Family) -> None:
    assert (await client.post(f"{T1}/{family.path}", json=family.body)).status_code == 201
    assert (await client.post(f"{T2}/{family.path}", json=family.body)).status_code == 201
    updated = await client.request(family.method, f"{T2}/{family.path}/{family.id}", json=family.update)
    assert updated.status_code == 200
    assert (await client.delete(f"{T2}/{family.path}/{family.id}")).status_code == 204
    assert (await client.get(f"{T1}/{family.path}/{family.id}")).status_code == 200


@pytest.mark.usefixtures("two_tenants")
async def test_projects_are_per_tenant(client: httpx.AsyncClient) -> None:
    t1 = (await client.get("/tenants/t1/crud/projects/p1")).json()["data"]
    t2 = (await client.get("/tenants/t2/crud/projects/p1")).json()["data"]
    assert (t1["description"], t2["description"]) == ("Test", "t2")
    assert (await client.patch("/tenants/t2/crud/projects/p1", json={"name": "Renamed"})).status_code == 200
    assert (await client.get("/tenants/t1/crud/projects/p1")).json()["data"]["name"] == "P1"


async def test_project_of_another_tenant_is_404(client: httpx.AsyncClient, project: str) -> None:
    assert (await client.get("/tenants/t2/crud/projects/p1")).status_code == 404
    assert (await client.patch("/tenants/t2/crud/projects/p1", json={"name": "x"})).status_code == 404
    assert (await client.delete("/tenants/t2/crud/projects/p1")).status_code == 404
    assert (await client.get("/tenants/t2/crud/projects")).json()["data"] == []
    assert (await client.get(f"{project}")).status_code == 200


async def test_rows_cannot_be_created_in_another_tenants_project(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post(f"{T2}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    assert response.status_code == 404
    assert (await client.get(f"{project}/agents/a")).status_code == 404


async def test_references_do_not_cross_tenants(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    await client.post("/tenants/t2/crud/projects", json={"id": "p1", "name": "P", "description": "d"})
    response = await client.post(f"{T2}/agent-graphs", json={"id": "g", "name": "G", "defaultAgentId": "a"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["defaultAgentId"]


async def test_references_do_not_cross_projects(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    await client.post("/tenants/t1/crud/projects", json={"id": "p2", "name": "P", "description": "d"})
    body = {"id": "g", "name": "G", "defaultAgentId": "a"}
    response = await client.post("/tenants/t1/crud/projects/p2/agent-graphs", json=body)
    assert response.status_code == 400


async def test_deleting_in_one_tenant_keeps_the_other(client: httpx.AsyncClient, project: str) -> None:
    await client.post("/tenants/t2/crud/projects", json={"id": "p1", "name": "P", "description": "d"})
    for base in (T1, T2):
        await client.post(f"{base}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    assert (await client.delete(f"{T1}/agents/a")).status_code == 204
    assert (await client.get(f"{T2}/agents/a")).status_code == 200
