"""External agents: A2A peers addressed by an http(s) base URL."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("url", ["https://peer.test/a2a", "http://127.0.0.1:8080"])
async def test_http_urls_are_accepted_as_written(client: httpx.AsyncClient, project: str, url: str) -> None:
    response = await client.post(f"{project}/external-agents", json={"id": "e", "name": "E", "baseUrl": url})
    assert response.status_code == 201
    assert response.json()["data"]["baseUrl"] == url


@pytest.mark.parametrize("url", ["ftp://peer.test", "peer.test/a2a", "javascript:alert(1)", "http://", ""])
async def test_non_http_url_is_400(client: httpx.AsyncClient, project: str, url: str) -> None:
    response = await client.post(f"{project}/external-agents", json={"id": "e", "name": "E", "baseUrl": url})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["baseUrl"]


async def test_update_to_non_http_url_is_400(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/external-agents", json={"id": "e", "name": "E", "baseUrl": "https://peer.test"})
    response = await client.put(f"{project}/external-agents/e", json={"baseUrl": "file:///etc/passwd"})
    assert response.status_code == 400
    assert (await client.get(f"{project}/external-agents/e")).json()["data"]["baseUrl"] == "https://peer.test"


async def test_type_external_is_accepted_and_not_stored(client: httpx.AsyncClient, project: str) -> None:
    body = {"id": "e", "name": "E", "baseUrl": "https://peer.test", "type": "external"}
    response = await client.post(f"{project}/external-agents", json=body)
    assert response.status_code == 201
    assert "type" not in response.json()["data"]


async def test_credential_reference_must_exist(client: httpx.AsyncClient, project: str) -> None:
    body = {"id": "e", "name": "E", "baseUrl": "https://peer.test", "credentialReferenceId": "ghost"}
    response = await client.post(f"{project}/external-agents", json=body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["credentialReferenceId"]
