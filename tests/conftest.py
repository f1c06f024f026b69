"""Shared fixtures: a migrated store on SQLite and (when configured) PostgreSQL, and an HTTP client.

PostgreSQL runs when `INKEEP_TEST_POSTGRES_URL` is set (`.ci/run` starts a server and sets it); each
test starts from an empty migrated database, so tests stay independent and can run in any order.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.migrations import migrate
from tests.fakes.fake_llm import fake_llm  # noqa: F401 - shared fixture
from tests.fakes_mcp.fake_mcp import fake_mcp, fake_mcp_auth, fake_mcp_sse  # noqa: F401 - shared fixtures

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


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrate once per session: a SQLite file to copy and (when configured) a PostgreSQL template database."""
    folder = tmp_path_factory.mktemp("template")
    templates = {"sqlite": str(folder / "inkeep.db")}

    async def build() -> None:
        sqlite = Store.open(f"sqlite+aiosqlite:///{templates['sqlite']}")
        await migrate(sqlite.engine)
        await sqlite.close()
        if POSTGRES_URL:
            name = f"tmpl_{uuid.uuid4().hex[:12]}"
            admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            await admin.dispose()
            template = Store.open(_database_url(name))
            await migrate(template.engine)
            await template.close()
            templates["postgres"] = name

    asyncio.run(build())
    yield templates
    if "postgres" in templates:

        async def drop() -> None:
            admin = create_async_engine(POSTGRES_URL or "", isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{templates["postgres"]}" WITH (FORCE)'))
            await admin.dispose()

        asyncio.run(drop())


def _database_url(name: str) -> str:
    assert POSTGRES_URL is not None
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
async def store(backend: str, tmp_path: Path, migrated_template: dict[str, str]) -> AsyncIterator[Store]:
    """A migrated store (a copy of the session's migrated template)."""
    if backend == "sqlite":
        shutil.copyfile(migrated_template["sqlite"], tmp_path / "inkeep.db")
        store = Store.open(f"sqlite+aiosqlite:///{tmp_path}/inkeep.db")
        yield store
        await store.close()
        return
    # One migrated database per session, emptied before each test: much faster than a database per test.
    store = Store.open(_database_url(migrated_template["postgres"]))
    async with store.engine.begin() as connection:
        names = (
            await connection.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'inkeep_migrations'"
                )
            )
        ).scalars()
        await connection.execute(sa.text(f"TRUNCATE {', '.join(f'{n}' for n in names)} CASCADE"))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def settings() -> Settings:
    """Settings for an in-process app (the store fixture supplies the database)."""
    return Settings.from_env({}, database_url="sqlite+aiosqlite:///:memory:")


@asynccontextmanager
async def running_lifespan(app: Starlette) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own, as uvicorn does.

    pytest-asyncio runs a fixture's setup and teardown in different tasks, but the lifespan holds
    anyio task groups (the MCP pool) that must be entered and exited in one task.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # re-raise a start-up failure
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture
async def client(store: Store, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to an in-process app on `store`."""
    app = create_app(settings, store=store)
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def project(client: httpx.AsyncClient) -> str:
    """Create project `p1` in tenant `t1`; return the CRUD base path of the project."""
    response = await client.post("/tenants/t1/crud/projects", json={"id": "p1", "name": "P1", "description": "Test"})
    assert response.status_code == 201, response.text
    return "/tenants/t1/crud/projects/p1"
