"""A locked or unreachable database is a 503 problem with Retry-After, and the server keeps answering."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import httpx

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.conftest import running_lifespan


async def test_locked_sqlite_database_is_503_then_recovers(tmp_path: Path, migrated_template: dict[str, str]) -> None:
    path = tmp_path / "inkeep.db"
    shutil.copyfile(migrated_template["sqlite"], path)
    store = Store.open(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=100)
    app = create_app(Settings(), store=store)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        async with (
            running_lifespan(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
        ):
            blocker.execute("BEGIN EXCLUSIVE")
            body = {"id": "p1", "name": "P1", "description": "x"}
            locked = await http.post("/tenants/t1/crud/projects", json=body)
            assert locked.status_code == 503
            assert locked.headers["retry-after"] == "1"
            assert locked.json()["code"] == "store_unavailable"
            blocker.execute("ROLLBACK")
            assert (await http.post("/tenants/t1/crud/projects", json=body)).status_code == 201
    finally:
        blocker.close()
        await store.close()
