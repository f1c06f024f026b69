"""Credential references: where a secret lives, never the secret itself."""

from __future__ import annotations

import httpx
import pytest


async def test_create_keeps_retrieval_params(client: httpx.AsyncClient, project: str) -> None:
    body = {
        "id": "c",
        "type": "nango",
        "credentialStoreId": "nango-main",
        "retrievalParams": {"connectionId": "x", "providerConfigKey": "y"},
    }
    response = await client.post(f"{project}/credentials", json=body)
    assert response.status_code == 201
    data = (await client.get(f"{project}/credentials/c")).json()["data"]
    assert {k: data[k] for k in body} == body


@pytest.mark.parametrize("key", ["value", "token", "apiKey", "API_KEY", "password", "clientSecret", "accessToken"])
async def test_secret_value_in_retrieval_params_is_400(client: httpx.AsyncClient, project: str, key: str) -> None:
    body = {"id": "c", "type": "memory", "credentialStoreId": "m", "retrievalParams": {key: "s3cr3t"}}
    response = await client.post(f"{project}/credentials", json=body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["retrievalParams"]
    assert "s3cr3t" not in response.text
    assert (await client.get(f"{project}/credentials/c")).status_code == 404


async def test_secret_value_on_update_is_400(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/credentials", json={"id": "c", "type": "env", "credentialStoreId": "env"})
    response = await client.put(f"{project}/credentials/c", json={"retrievalParams": {"secret": "s3cr3t"}})
    assert response.status_code == 400
    assert "s3cr3t" not in response.text


async def test_unknown_credential_type_is_400(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post(f"{project}/credentials", json={"id": "c", "type": "vault", "credentialStoreId": "v"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["type"]
