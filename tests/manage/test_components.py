"""Data and artifact components: their props must be valid JSON Schema."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

VALID = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
INVALID = {"type": "objekt"}

FIELDS = [("data-components", "props"), ("artifact-components", "summaryProps"), ("artifact-components", "fullProps")]


def _body(path: str, **fields: Any) -> dict[str, Any]:
    return {"id": "c", "name": "C", "description": "d", **fields}


@pytest.mark.parametrize(("path", "field"), FIELDS)
async def test_valid_schema_is_stored_as_sent(client: httpx.AsyncClient, project: str, path: str, field: str) -> None:
    response = await client.post(f"{project}/{path}", json=_body(path, **{field: VALID}))
    assert response.status_code == 201
    assert (await client.get(f"{project}/{path}/c")).json()["data"][field] == VALID


@pytest.mark.parametrize(("path", "field"), FIELDS)
async def test_invalid_schema_on_create_is_400_naming_the_field(
    client: httpx.AsyncClient, project: str, path: str, field: str
) -> None:
    response = await client.post(f"{project}/{path}", json=_body(path, **{field: INVALID}))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert "Not a valid JSON Schema" in errors[0]["message"]


@pytest.mark.parametrize(("path", "field"), FIELDS)
async def test_invalid_schema_on_update_is_400(client: httpx.AsyncClient, project: str, path: str, field: str) -> None:
    await client.post(f"{project}/{path}", json=_body(path, **{field: VALID}))
    response = await client.put(f"{project}/{path}/c", json={field: INVALID})
    assert response.status_code == 400
    assert (await client.get(f"{project}/{path}/c")).json()["data"][field] == VALID


@pytest.mark.parametrize(("path", "field"), FIELDS)
async def test_props_must_be_an_object(client: httpx.AsyncClient, project: str, path: str, field: str) -> None:
    response = await client.post(f"{project}/{path}", json=_body(path, **{field: ["type"]}))
    assert response.status_code == 400


async def test_data_component_needs_an_id(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post(f"{project}/data-components", json={"name": "C", "description": "d"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["id"]


async def test_artifact_component_without_id_gets_one(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post(f"{project}/artifact-components", json={"name": "C", "description": "d"})
    assert response.status_code == 201
    assert response.json()["data"]["id"]


async def test_components_are_separate_namespaces(client: httpx.AsyncClient, project: str) -> None:
    assert (await client.post(f"{project}/data-components", json=_body("d"))).status_code == 201
    assert (await client.post(f"{project}/artifact-components", json=_body("a"))).status_code == 201
    assert (await client.delete(f"{project}/data-components/c")).status_code == 204
    assert (await client.get(f"{project}/artifact-components/c")).status_code == 200
