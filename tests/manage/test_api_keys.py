"""API keys through the CRUD API, and their verification by the run API's `ApiKeyVerifier`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from inkeep_runtime.errors import Unauthorized
from inkeep_runtime.http.auth import INVALID_KEY, MISSING_HEADER, ApiKeyIdentity, ApiKeyVerifier, bearer_token
from inkeep_runtime.keys import check_api_key
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope

FUTURE = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
SCOPE = Scope("t1", "p1")
INVALID = f"^{re.escape(INVALID_KEY)}$"
MISSING = f"^{re.escape(MISSING_HEADER)}$"
G1 = {"tenant_id": "t1", "project_id": "p1", "graph_id": "g1"}


@pytest.fixture
async def graphs(client: httpx.AsyncClient, project: str) -> str:
    """Graphs `g1` and `g2` in project `p1`; return the project base path."""
    for graph_id in ("g1", "g2"):
        response = await client.post(f"{project}/agent-graphs", json={"id": graph_id, "name": graph_id})
        assert response.status_code == 201, response.text
    return project


async def _create(client: httpx.AsyncClient, project: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{project}/api-keys", json={"graphId": "g1", **body})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _stored(store: Store, key_id: str) -> dict[str, Any]:
    async with store.read() as session:
        row = await Rows(session).get("api_keys", SCOPE, key_id)
    assert row is not None
    return row


async def test_create_returns_the_key_once(client: httpx.AsyncClient, graphs: str) -> None:
    created = await _create(client, graphs, name="CI")
    api_key, key = created["apiKey"], created["key"]
    assert set(api_key) == {
        "id",
        "graphId",
        "publicId",
        "keyPrefix",
        "name",
        "lastUsedAt",
        "expiresAt",
        "createdAt",
        "updatedAt",
    }
    assert key.startswith(f"sk_{api_key['publicId']}.")
    assert api_key["keyPrefix"] == key[:12]
    assert [api_key[name] for name in ("graphId", "name", "lastUsedAt", "expiresAt")] == ["g1", "CI", None, None]
    responses = [
        await client.get(f"{graphs}/api-keys/{api_key['id']}"),
        await client.get(f"{graphs}/api-keys"),
        await client.put(f"{graphs}/api-keys/{api_key['id']}", json={"name": "renamed"}),
    ]
    for response in responses:
        assert response.status_code == 200
        assert key not in response.text
        assert "keyHash" not in response.text
        assert '"key"' not in response.text


async def test_only_a_salted_hash_is_stored(client: httpx.AsyncClient, graphs: str, store: Store) -> None:
    created = await _create(client, graphs)
    row = await _stored(store, created["apiKey"]["id"])
    assert row["key_hash"] != created["key"]
    assert created["key"] not in row["key_hash"]
    assert row["key_hash"].startswith("scrypt$")
    assert check_api_key(created["key"], row["key_hash"])


async def test_expires_at_is_normalised_to_utc(client: httpx.AsyncClient, graphs: str) -> None:
    local = FUTURE.astimezone(UTC).replace(tzinfo=None).isoformat() + "+02:00"
    created = await _create(client, graphs, expiresAt=local)
    expected = (FUTURE - timedelta(hours=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert created["apiKey"]["expiresAt"] == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"graphId": "nope"}, "graphId"),
        ({"graphId": "g1", "expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
        ({"graphId": "g1", "expiresAt": "tomorrow"}, "expiresAt"),
        ({"graphId": "g1", "expiresAt": "2999-01-01T00:00:00"}, "expiresAt"),
        ({"graphId": "g1", "keyHash": "x"}, "keyHash"),
        ({}, "graphId"),
    ],
)
async def test_create_rejects_bad_fields(
    client: httpx.AsyncClient, graphs: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{graphs}/api-keys", json=body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_create_in_unknown_project_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/tenants/t1/crud/projects/missing/api-keys", json={"graphId": "g1"})
    assert response.status_code == 404


async def test_list_paginates_and_filters_by_graph(client: httpx.AsyncClient, graphs: str) -> None:
    ids = [(await _create(client, graphs))["apiKey"]["id"] for _ in range(3)]
    other = await client.post(f"{graphs}/api-keys", json={"graphId": "g2"})
    assert other.status_code == 201
    page = (await client.get(f"{graphs}/api-keys", params={"limit": 2, "page": 2, "graphId": "g1"})).json()
    assert page["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2}
    assert [item["id"] for item in page["data"]] == ids[2:]
    everything = (await client.get(f"{graphs}/api-keys")).json()
    assert everything["pagination"]["total"] == 4
    assert (await client.get("/tenants/t1/crud/projects/missing/api-keys")).status_code == 404


async def test_update_changes_name_and_expiry_only(client: httpx.AsyncClient, graphs: str) -> None:
    api_key = (await _create(client, graphs, name="old"))["apiKey"]
    url = f"{graphs}/api-keys/{api_key['id']}"
    response = await client.put(url, json={"name": "new", "expiresAt": FUTURE.isoformat()})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["name"] == "new"
    assert data["expiresAt"] == FUTURE.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert data["publicId"] == api_key["publicId"]
    cleared = await client.put(url, json={"expiresAt": None})
    assert cleared.json()["data"]["expiresAt"] is None


async def test_update_accepts_a_round_tripped_get_body(client: httpx.AsyncClient, graphs: str) -> None:
    api_key = (await _create(client, graphs))["apiKey"]
    url = f"{graphs}/api-keys/{api_key['id']}"
    response = await client.put(url, json={**api_key, "name": "renamed", "lastUsedAt": "2020-01-01T00:00:00Z"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "renamed"
    assert response.json()["data"]["lastUsedAt"] is None


async def test_update_refuses_to_move_a_key_to_another_graph(client: httpx.AsyncClient, graphs: str) -> None:
    api_key = (await _create(client, graphs))["apiKey"]
    response = await client.put(f"{graphs}/api-keys/{api_key['id']}", json={"graphId": "g2", "publicId": "x"})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"graphId", "publicId"}
    assert "cannot be changed" in response.json()["detail"]


async def test_unknown_key_is_404_everywhere(client: httpx.AsyncClient, graphs: str) -> None:
    url = f"{graphs}/api-keys/nope"
    assert (await client.get(url)).status_code == 404
    assert (await client.put(url, json={"name": "x"})).status_code == 404
    assert (await client.delete(url)).status_code == 404


async def test_delete_removes_the_key(client: httpx.AsyncClient, graphs: str) -> None:
    api_key = (await _create(client, graphs))["apiKey"]
    url = f"{graphs}/api-keys/{api_key['id']}"
    deleted = await client.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(url)).status_code == 404


async def test_routes_appear_in_openapi(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/tenants/{tenantId}/crud/projects/{projectId}/api-keys"]) == {"get", "post"}
    assert set(paths["/tenants/{tenantId}/crud/projects/{projectId}/api-keys/{id}"]) == {"get", "put", "delete"}


# --- the run API's verifier --------------------------------------------------------------------------------


async def test_verifier_accepts_a_valid_key(client: httpx.AsyncClient, graphs: str, store: Store) -> None:
    created = await _create(client, graphs)
    identity = await ApiKeyVerifier(store).verify(created["key"], **G1)
    assert identity == ApiKeyIdentity(**G1, key_id=created["apiKey"]["id"])
    assert (await _stored(store, created["apiKey"]["id"]))["last_used_at"] is not None


@pytest.mark.parametrize(
    "scope",
    [
        {"tenant_id": "t2", "project_id": "p1", "graph_id": "g1"},
        {"tenant_id": "t1", "project_id": "p2", "graph_id": "g1"},
        {"tenant_id": "t1", "project_id": "p1", "graph_id": "g2"},
    ],
)
async def test_verifier_rejects_a_key_of_another_scope(
    client: httpx.AsyncClient, graphs: str, store: Store, scope: dict[str, str]
) -> None:
    created = await _create(client, graphs)
    verifier = ApiKeyVerifier(store)
    await verifier.verify(created["key"], **G1)  # now cached
    for _ in range(2):  # from the store, then from the cache
        with pytest.raises(Unauthorized, match=INVALID):
            await ApiKeyVerifier(store).verify(created["key"], **scope)
        with pytest.raises(Unauthorized, match=INVALID):
            await verifier.verify(created["key"], **scope)


async def test_verifier_rejects_an_expired_key(client: httpx.AsyncClient, graphs: str, store: Store) -> None:
    created = await _create(client, graphs, expiresAt=FUTURE.isoformat())
    verifier = ApiKeyVerifier(store)
    await verifier.verify(created["key"], **G1)
    async with store.write(SCOPE.key) as session:
        past = {"expires_at": "2020-01-01T00:00:00.000Z"}
        await Rows(session).update("api_keys", SCOPE, created["apiKey"]["id"], past, label="API key")
    with pytest.raises(Unauthorized, match=INVALID):
        await ApiKeyVerifier(store).verify(created["key"], **G1)


async def test_verifier_rejects_a_tampered_secret(client: httpx.AsyncClient, graphs: str, store: Store) -> None:
    key = (await _create(client, graphs))["key"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    with pytest.raises(Unauthorized, match=INVALID):
        await ApiKeyVerifier(store).verify(tampered, **G1)


async def test_verifier_rejects_an_unknown_public_id(graphs: str, store: Store) -> None:
    with pytest.raises(Unauthorized, match=INVALID):
        await ApiKeyVerifier(store).verify("sk_abcdefghijkl.c2VjcmV0", **G1)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Missing or invalid authorization header. Expected: Bearer <api_key>"),
        ("short", "Invalid API key format"),
        ("sk_notright.secretsecret", "Invalid API key format"),
    ],
)
async def test_verifier_rejects_malformed_keys(store: Store, key: str, message: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        await ApiKeyVerifier(store).verify(key, **G1)
    assert caught.value.detail == message


async def test_last_used_at_is_written_at_most_once_per_interval(
    client: httpx.AsyncClient, graphs: str, store: Store
) -> None:
    created = await _create(client, graphs)
    key_id, key = created["apiKey"]["id"], created["key"]

    async def use_twice(verifier: ApiKeyVerifier) -> str | None:
        await verifier.verify(key, **G1)
        async with store.write(SCOPE.key) as session:  # mark the row, then use the key again
            await Rows(session).update("api_keys", SCOPE, key_id, {"last_used_at": "marker"}, label="API key")
        await verifier.verify(key, **G1)
        last_used: str | None = (await _stored(store, key_id))["last_used_at"]
        return last_used

    assert await use_twice(ApiKeyVerifier(store)) == "marker"
    assert await use_twice(ApiKeyVerifier(store, last_used_interval_s=0.0)) != "marker"


async def test_last_used_at_does_not_touch_updated_at(client: httpx.AsyncClient, graphs: str, store: Store) -> None:
    created = await _create(client, graphs)
    await ApiKeyVerifier(store).verify(created["key"], **G1)
    assert (await _stored(store, created["apiKey"]["id"]))["updated_at"] == created["apiKey"]["updatedAt"]


async def test_cache_expires_after_its_ttl(client: httpx.AsyncClient, graphs: str, store: Store) -> None:
    created = await _create(client, graphs)
    now = [0.0]
    verifier = ApiKeyVerifier(store, cache_ttl_s=30.0, clock=lambda: now[0])
    await verifier.verify(created["key"], **G1)
    assert (await client.delete(f"{graphs}/api-keys/{created['apiKey']['id']}")).status_code == 204
    now[0] = 29.0  # still cached: documented
    await verifier.verify(created["key"], **G1)
    now[0] = 31.0
    with pytest.raises(Unauthorized, match=INVALID):
        await verifier.verify(created["key"], **G1)


async def test_cache_is_bounded(client: httpx.AsyncClient, graphs: str, store: Store) -> None:
    keys = [(await _create(client, graphs))["key"] for _ in range(3)]
    verifier = ApiKeyVerifier(store, cache_size=2)
    for key in keys:
        await verifier.verify(key, **G1)
    assert len(verifier._verified) == 2


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "token"])
def test_bearer_token_requires_a_bearer_header(header: str | None) -> None:
    with pytest.raises(Unauthorized, match=MISSING):
        bearer_token(header)


def test_bearer_token_returns_the_token() -> None:
    assert bearer_token("bearer  sk_x.y ") == "sk_x.y"
