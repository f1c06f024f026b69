"""`GET …/tools/status-summary`: probe status joined with recent traffic from the query log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inkeep_runtime.observe.record_values import epoch_ms
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.query_logs import insert_records
from inkeep_runtime.store.rows import Rows, Scope
from tests.observe.querylog_harness import make_record

CRUD = "/tenants/t1/crud/projects/p1"
SUMMARY = f"{CRUD}/tools/status-summary"
MINUTE_MS = 60_000


async def _tool(client: httpx.AsyncClient, store: Store, tool_id: str, **probe: Any) -> None:
    body: dict[str, Any] = {
        "id": tool_id,
        "name": f"{tool_id.title()} server",
        "config": {"type": "mcp", "mcp": {"server": {}}},
    }
    body["config"]["mcp"]["server"]["url"] = f"http://127.0.0.1:9/{tool_id}"
    response = await client.post(f"{CRUD}/tools", json=body)
    assert response.status_code == 201, response.text
    if probe:
        async with store.write("t1/p1") as session:
            await Rows(session).update("tools", Scope("t1", "p1"), tool_id, probe, label="Tool")


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str, store: Store) -> int:
    """Four tools; `crm` has 20 calls in the last 40 minutes (5 failed) and 3 older ones; returns now."""
    now = epoch_ms()
    await _tool(client, store, "crm", status="healthy", last_health_check="2026-01-01T10:00:00.000Z")
    await _tool(
        client,
        store,
        "mail",
        status="unhealthy",
        last_health_check="2026-01-01T11:00:00.000Z",
        last_error="connection refused",
    )
    await _tool(client, store, "wiki", status="disabled")
    await _tool(client, store, "auth", status="needs_auth")
    recent = [
        {"tool_id": "crm", "latency_ms": 10 * (i + 1), "success": i % 4 != 0, "started_at_ms": now - 40 * MINUTE_MS + i}
        for i in range(20)
    ]
    old = [{"tool_id": "crm", "latency_ms": 99_999, "success": False, "started_at_ms": now - 2 * 60 * MINUTE_MS}] * 3
    await insert_records(store, [make_record("recent", now - 41 * MINUTE_MS, calls=recent)])
    await insert_records(
        store, [make_record(f"old{i}", now - 121 * MINUTE_MS, calls=[call]) for i, call in enumerate(old)]
    )
    return now


@pytest.mark.usefixtures("seeded")
async def test_summary_counts_statuses_and_joins_recent_traffic(client: httpx.AsyncClient) -> None:
    response = await client.get(SUMMARY)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    counts = {k: data[k] for k in ("window", "total", "healthy", "unhealthy", "needsAuth", "disabled", "unknown")}
    assert counts == {
        "window": "1h",
        "total": 4,
        "healthy": 1,
        "unhealthy": 1,
        "needsAuth": 1,
        "disabled": 1,
        "unknown": 0,
    }
    assert data["lastCheckedAt"] == "2026-01-01T11:00:00.000Z"
    assert data["from"] < data["to"]
    by_id = {tool["toolId"]: tool for tool in data["tools"]}
    assert [tool["toolId"] for tool in data["tools"]] == ["auth", "crm", "mail", "wiki"]  # by name
    assert by_id["crm"] == {
        "toolId": "crm",
        "name": "Crm server",
        "status": "healthy",
        "lastHealthCheck": "2026-01-01T10:00:00.000Z",
        "lastError": None,
        "recentCalls": 20,
        "recentErrors": 5,
        "recentErrorRate": 0.25,
        "latencyMs": {"p95": 190},  # nearest rank: the 19th of 20 latencies 10, 20, ..., 200
    }
    assert by_id["mail"] == {
        "toolId": "mail",
        "name": "Mail server",
        "status": "unhealthy",
        "lastHealthCheck": "2026-01-01T11:00:00.000Z",
        "lastError": "connection refused",
        "recentCalls": 0,
        "recentErrors": 0,
        "recentErrorRate": None,
        "latencyMs": {"p95": None},
    }


@pytest.mark.usefixtures("seeded")
async def test_window_bounds_the_traffic(client: httpx.AsyncClient) -> None:
    async def crm(window: str) -> dict[str, Any]:
        response = await client.get(SUMMARY, params={"window": window})
        assert response.status_code == 200, response.text
        return next(t for t in response.json()["data"]["tools"] if t["toolId"] == "crm")

    assert (await crm("30m"))["recentCalls"] == 0
    three_hours = await crm("3h")
    assert (three_hours["recentCalls"], three_hours["recentErrors"], three_hours["latencyMs"]) == (
        23,
        8,
        {"p95": 99_999},
    )


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize("window", ["0h", "1y", "h", "-1h"])
async def test_bad_window_is_400_naming_it(client: httpx.AsyncClient, window: str) -> None:
    response = await client.get(SUMMARY, params={"window": window})
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["query.window"]


@pytest.mark.usefixtures("project")
async def test_empty_project_and_unknown_project(client: httpx.AsyncClient) -> None:
    data = (await client.get(SUMMARY)).json()["data"]
    assert (data["total"], data["tools"], data["lastCheckedAt"]) == (0, [], None)
    assert (await client.get("/tenants/t1/crud/projects/nope/tools/status-summary")).status_code == 404
