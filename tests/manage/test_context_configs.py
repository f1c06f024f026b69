"""Context configs: request-context schema and fetched variables."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

VARIABLE = {
    "id": "user",
    "trigger": "initialization",
    "fetchConfig": {
        "url": "https://api.test/users/{{requestContext.userId}}",
        "method": "GET",
        "headers": {"x-a": "b"},
        "timeout": 1000,
    },
    "responseSchema": {"type": "object"},
    "defaultValue": {"name": "anonymous"},
}


async def test_create_keeps_schema_and_variables_as_sent(client: httpx.AsyncClient, project: str) -> None:
    body = {
        "id": "c",
        "name": "C",
        "requestContextSchema": {"type": "object", "properties": {"userId": {}}},
        "contextVariables": {"user": VARIABLE},
    }
    response = await client.post(f"{project}/context-configs", json=body)
    assert response.status_code == 201
    data = (await client.get(f"{project}/context-configs/c")).json()["data"]
    assert {k: data[k] for k in body} == body
    assert data["description"] == ""


@pytest.mark.parametrize(
    ("variable", "field"),
    [
        ({"fetchConfig": {"url": ""}}, "contextVariables.user.fetchConfig.url"),
        ({"fetchConfig": {"url": "https://x", "method": "TRACE"}}, "contextVariables.user.fetchConfig.method"),
        ({"fetchConfig": {"url": "https://x", "timeout": 0}}, "contextVariables.user.fetchConfig.timeout"),
        ({"fetchConfig": {"url": "https://x"}, "trigger": "always"}, "contextVariables.user.trigger"),
        ({"fetchConfig": {"url": "https://x"}, "responseSchema": {"type": 1}}, "contextVariables.user.responseSchema"),
        ({}, "contextVariables.user.fetchConfig"),
    ],
    ids=["empty-url", "method", "timeout", "trigger", "response-schema", "no-fetch-config"],
)
async def test_invalid_variable_is_400_naming_the_field(
    client: httpx.AsyncClient, project: str, variable: dict[str, Any], field: str
) -> None:
    body = {"id": "c", "name": "C", "contextVariables": {"user": variable}}
    response = await client.post(f"{project}/context-configs", json=body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_invalid_request_context_schema_is_400(client: httpx.AsyncClient, project: str) -> None:
    body = {"id": "c", "name": "C", "requestContextSchema": {"required": "userId"}}
    response = await client.post(f"{project}/context-configs", json=body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["requestContextSchema"]


async def test_update_replaces_the_variables(client: httpx.AsyncClient, project: str) -> None:
    body = {"id": "c", "name": "C", "contextVariables": {"user": VARIABLE}}
    await client.post(f"{project}/context-configs", json=body)
    other = {"fetchConfig": {"url": "https://api.test/org"}}
    response = await client.put(f"{project}/context-configs/c", json={"contextVariables": {"org": other}})
    assert response.status_code == 200
    assert response.json()["data"]["contextVariables"] == {"org": other}
