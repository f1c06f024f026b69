"""The admin token: with one configured, every CRUD request needs `Authorization: Bearer <token>`."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import Route

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.conftest import running_lifespan

TOKEN = "s3cret-admin-token"
PROJECTS = "/tenants/t1/crud/projects"


@pytest.fixture
def backend() -> str:
    """The document and the auth gate do not depend on the database: SQLite only."""
    return "sqlite"


@pytest.fixture
def settings() -> Settings:
    """Settings with an admin token."""
    return Settings(database_url="sqlite+aiosqlite:///:memory:", admin_token=TOKEN)


def _crud_operations(settings: Settings, store: Store) -> list[tuple[str, str]]:
    app = create_app(settings, store=store)
    found = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/tenants/") and "/crud/" in route.path:
            path = re.sub(r"{[^}]+}", "x", route.path)
            found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def _assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert (body["status"], body["code"], body["title"]) == (401, "unauthorized", "Unauthorized")
    assert body["requestId"] == response.headers["x-request-id"]
    assert TOKEN not in response.text


async def test_every_crud_route_without_token_is_401(
    client: httpx.AsyncClient, settings: Settings, store: Store
) -> None:
    operations = _crud_operations(settings, store)
    assert len(operations) > 40
    for method, path in operations:
        response = await client.request(method, path, json={})
        _assert_unauthorized(response)
        assert "requires Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}", "Bearer wrong"],
)
async def test_wrong_credentials_are_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get(PROJECTS, headers={"Authorization": header})
    _assert_unauthorized(response)
    assert "Missing or invalid admin token" in response.json()["detail"]


async def test_every_crud_route_with_token_passes_the_gate(
    client: httpx.AsyncClient, settings: Settings, store: Store
) -> None:
    for method, path in _crud_operations(settings, store):
        response = await client.request(method, path, json={}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code != 401, (method, path, response.text)


async def test_right_token_creates_and_reads(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    created = await client.post(PROJECTS, json={"id": "p", "name": "P", "description": "d"}, headers=headers)
    assert created.status_code == 201
    assert (await client.get(f"{PROJECTS}/p", headers=headers)).status_code == 200


async def test_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await client.get(PROJECTS, headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


async def test_rejected_write_stores_nothing(client: httpx.AsyncClient) -> None:
    await client.post(PROJECTS, json={"id": "p", "name": "P", "description": "d"})
    listed = await client.get(PROJECTS, headers={"Authorization": f"Bearer {TOKEN}"})
    assert listed.json()["pagination"]["total"] == 0


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
async def test_health_and_openapi_stay_open(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


async def test_unknown_crud_path_without_token_is_401_not_404(client: httpx.AsyncClient) -> None:
    _assert_unauthorized(await client.get("/tenants/t1/crud/nothing-here"))


async def test_without_configured_token_crud_is_open(store: Store) -> None:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"), store=store)
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get(PROJECTS)).status_code == 200
