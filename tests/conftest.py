"""Shared fixtures: a migrated store on SQLite and (when configured) PostgreSQL, and an HTTP client.

PostgreSQL runs when `INKEEP_TEST_POSTGRES_URL` is set (`.ci/run` starts a server and sets it); each
test gets its own schema, so tests stay independent and can run in any order.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.migrations import migrate

POSTGRES_URL = os.environ.get("INKEEP_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs against."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need INKEEP_TEST_POSTGRES_URL (set by .ci/run)")
    return str(request.param)


@pytest.fixture
async def empty_store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """An unmigrated, empty database."""
    if backend == "sqlite":
        store = Store.open(f"sqlite+aiosqlite:///{tmp_path}/inkeep.db")
        yield store
        await store.close()
        return
    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_async_engine(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    store = Store(engine)
    try:
        yield store
    finally:
        await store.close()
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def store(empty_store: Store) -> Store:
    """A migrated store."""
    await migrate(empty_store.engine)
    return empty_store


@pytest.fixture
def settings() -> Settings:
    """Settings for an in-process app (the store fixture supplies the database)."""
    return Settings.from_env({}, database_url="sqlite+aiosqlite:///:memory:")


@pytest.fixture
async def client(store: Store, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to an in-process app on `store`."""
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def project(client: httpx.AsyncClient) -> str:
    """Create project `p1` in tenant `t1`; return the CRUD base path of the project."""
    response = await client.post("/tenants/t1/crud/projects", json={"id": "p1", "name": "P1", "description": "Test"})
    assert response.status_code == 201, response.text
    return "/tenants/t1/crud/projects/p1"
