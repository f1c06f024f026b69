"""Every generic CRUD family behaves the same: envelopes, status codes, 404s, 409s and validation."""

from __future__ import annotations

import httpx
import pytest

from tests.manage.families import Family, family_params, seed

pytestmark = pytest.mark.parametrize("family", family_params())


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str) -> str:
    """A project holding the rows every family's minimal body refers to."""
    await seed(client, project)
    return project


async def _create(client: httpx.AsyncClient, project: str, family: Family) -> httpx.Response:
    response = await client.post(f"{project}/{family.path}", json=family.body)
    assert response.status_code == 201, response.text
    return response


async def test_create_returns_201_and_the_row_in_a_data_envelope(
    client: httpx.AsyncClient, seeded: str, family: Family
) -> None:
    response = await _create(client, seeded, family)
    body = response.json()
    assert list(body) == ["data"]
    assert {key: body["data"][key] for key in family.body} == family.body
    assert body["data"]["createdAt"] == body["data"]["updatedAt"]
    assert body["data"]["createdAt"].endswith("Z")


async def test_get_returns_what_create_returned(client: httpx.AsyncClient, seeded: str, family: Family) -> None:
    created = await _create(client, seeded, family)
    fetched = await client.get(f"{seeded}/{family.path}/{family.id}")
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


async def test_list_returns_rows_and_pagination(client: httpx.AsyncClient, seeded: str, family: Family) -> None:
    await _create(client, seeded, family)
    response = await client.get(f"{seeded}/{family.path}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "pagination"}
    assert family.id in [row["id"] for row in body["data"]]
    total = len(body["data"])
    assert body["pagination"] == {"page": 1, "limit": 10, "total": total, "pages": 1}


async def test_update_changes_given_fields_and_keeps_the_rest(
    client: httpx.AsyncClient, seeded: str, family: Family
) -> None:
    created = (await _create(client, seeded, family)).json()["data"]
    response = await client.request(family.method, f"{seeded}/{family.path}/{family.id}", json=family.update)
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert {key: updated[key] for key in family.update} == family.update
    unchanged = {key for key in created if key not in family.update and key != "updatedAt"}
    assert {key: updated[key] for key in unchanged} == {key: created[key] for key in unchanged}
    assert updated["updatedAt"] >= created["updatedAt"]
    fetched = await client.get(f"{seeded}/{family.path}/{family.id}")
    assert fetched.json()["data"] == updated


async def test_update_with_empty_body_returns_the_row_unchanged(
    client: httpx.AsyncClient, seeded: str, family: Family
) -> None:
    created = (await _create(client, seeded, family)).json()["data"]
    response = await client.request(family.method, f"{seeded}/{family.path}/{family.id}", json={})
    assert response.status_code == 200
    assert response.json()["data"] == created


async def test_update_cannot_change_the_id(client: httpx.AsyncClient, seeded: str, family: Family) -> None:
    await _create(client, seeded, family)
    response = await client.request(family.method, f"{seeded}/{family.path}/{family.id}", json={"id": "other"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["id"]
    assert (await client.get(f"{seeded}/{family.path}/other")).status_code == 404


async def test_update_to_null_of_a_required_field_is_400(
    client: httpx.AsyncClient, seeded: str, family: Family
) -> None:
    created = (await _create(client, seeded, family)).json()["data"]
    response = await client.request(family.method, f"{seeded}/{family.path}/{family.id}", json={family.required: None})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [family.required]
    assert (await client.get(f"{seeded}/{family.path}/{family.id}")).json()["data"] == created


async def test_delete_returns_204_with_empty_body_then_404(
    client: httpx.AsyncClient, seeded: str, family: Family
) -> None:
    await _create(client, seeded, family)
    response = await client.delete(f"{seeded}/{family.path}/{family.id}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{seeded}/{family.path}/{family.id}")).status_code == 404
    assert (await client.delete(f"{seeded}/{family.path}/{family.id}")).status_code == 404


@pytest.mark.parametrize("method", ["GET", "UPDATE", "DELETE"])
async def test_unknown_id_is_404_problem(client: httpx.AsyncClient, seeded: str, family: Family, method: str) -> None:
    url = f"{seeded}/{family.path}/nope"
    if method == "UPDATE":
        response = await client.request(family.method, url, json=family.update)
    else:
        response = await client.request(method, url)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "not_found"
    assert "'nope'" in body["detail"]


async def test_duplicate_id_is_409(client: httpx.AsyncClient, seeded: str, family: Family) -> None:
    await _create(client, seeded, family)
    again = await client.post(f"{seeded}/{family.path}", json=family.body)
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    listed = await client.get(f"{seeded}/{family.path}")
    assert [row["id"] for row in listed.json()["data"]].count(family.id) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_project_is_404(client: httpx.AsyncClient, family: Family, method: str) -> None:
    url = f"/tenants/t1/crud/projects/missing/{family.path}"
    response = await client.request(method, url, json=family.body if method == "POST" else None)
    assert response.status_code == 404
    assert "Project 'missing'" in response.json()["detail"]


async def test_unknown_body_field_is_400_naming_it(client: httpx.AsyncClient, seeded: str, family: Family) -> None:
    response = await client.post(f"{seeded}/{family.path}", json={**family.body, "bogusField": 1})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["bogusField"]


async def test_invalid_id_is_400(client: httpx.AsyncClient, seeded: str, family: Family) -> None:
    response = await client.post(f"{seeded}/{family.path}", json={**family.body, "id": "has space"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["id"]


async def test_server_timestamps_in_the_body_are_ignored(
    client: httpx.AsyncClient, seeded: str, family: Family
) -> None:
    body = {**family.body, "createdAt": "1999-01-01T00:00:00.000Z", "updatedAt": "1999-01-01T00:00:00.000Z"}
    response = await client.post(f"{seeded}/{family.path}", json=body)
    assert response.status_code == 201
    assert not response.json()["data"]["createdAt"].startswith("1999")
