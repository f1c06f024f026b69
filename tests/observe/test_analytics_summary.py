"""GET …/analytics/summary against the hand-built data set (tests/observe/analytics_data.py), on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inkeep_runtime.store.engine import Store
from tests.observe.analytics_data import (
    BASE,
    T0,
    H,
    at,
    insert_rows,
    iso,
    query_row,
    seed,
    settings,  # noqa: F401 - retention off for the fixed data set
    tool_call_row,
)

RANGE = {"from": iso(0), "to": iso(4 * H)}


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str, store: Store) -> httpx.AsyncClient:
    await seed(store)
    return client


async def summary(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/summary", params={**RANGE, **params})
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


EMPTY_PERIOD = {
    "queries": 0,
    "queryErrorRate": None,
    "queryDurationMs": {"avg": None, "p95": None},
    "toolCalls": 0,
    "toolCallErrorRate": None,
    "avgToolCallsPerQuery": None,
    "toolCallLatencyMs": {"avg": None, "p50": None, "p95": None, "p99": None},
    "transfers": 0,
    "delegations": 0,
    "inputTokens": 0,
    "outputTokens": 0,
    "approvalsRequested": 0,
    "toolCallsRejected": 0,
}

CURRENT = {
    "queries": 5,
    "queryErrorRate": 0.2,
    "queryDurationMs": {"avg": 3000.0, "p95": 5000},
    "toolCalls": 7,
    "toolCallErrorRate": 4 / 7,
    "avgToolCallsPerQuery": 1.4,
    "toolCallLatencyMs": {"avg": 250.0, "p50": 200, "p95": 700, "p99": 700},
    "transfers": 2,
    "delegations": 1,
    "inputTokens": 665,
    "outputTokens": 265,
    "approvalsRequested": 2,
    "toolCallsRejected": 1,
}


async def test_summary_of_the_range(seeded: httpx.AsyncClient) -> None:
    assert await summary(seeded) == {
        "window": None,
        "from": "2026-01-05T00:00:00.000Z",
        "to": "2026-01-05T04:00:00.000Z",
        "filters": {},
        "current": CURRENT,
        "previous": None,
    }


async def test_compare_previous_is_the_same_length_range_before(seeded: httpx.AsyncClient) -> None:
    found = await summary(seeded, compare="previous")
    assert found["current"] == CURRENT
    assert found["previous"] == {
        "queries": 2,
        "queryErrorRate": 0.5,
        "queryDurationMs": {"avg": 1000.0, "p95": 1200},
        "toolCalls": 1,
        "toolCallErrorRate": 0.0,
        "avgToolCallsPerQuery": 0.5,
        "toolCallLatencyMs": {"avg": 1000.0, "p50": 1000, "p95": 1000, "p99": 1000},
        "transfers": 0,
        "delegations": 0,
        "inputTokens": 20,
        "outputTokens": 5,
        "approvalsRequested": 0,
        "toolCallsRejected": 0,
    }


async def test_an_empty_range_is_zeros_and_nulls(seeded: httpx.AsyncClient) -> None:
    found = await summary(seeded, compare="previous", **{"from": iso(10 * 24 * H), "to": iso(11 * 24 * H)})
    assert found["current"] == EMPTY_PERIOD
    assert found["previous"] == EMPTY_PERIOD


async def test_an_empty_project_is_zeros_and_nulls(client: httpx.AsyncClient, project: str) -> None:
    found = await summary(client)
    assert found["current"] == EMPTY_PERIOD


async def test_the_range_end_is_exclusive_and_its_start_inclusive(seeded: httpx.AsyncClient) -> None:
    # q3 and c4 start exactly at T0+1h: out of [T0, T0+1h), in [T0+1h, T0+2h).
    before = await summary(seeded, **{"from": iso(0), "to": iso(H)})
    after = await summary(seeded, **{"from": iso(H), "to": iso(2 * H)})
    assert (before["current"]["queries"], before["current"]["toolCalls"]) == (2, 3)
    assert (after["current"]["queries"], after["current"]["toolCalls"]) == (2, 3)
    assert after["current"]["queryErrorRate"] == 0.5


@pytest.mark.parametrize(
    ("filters", "queries", "calls", "errors"),
    [
        ({"graphId": "g2"}, 1, 1, 0),
        ({"agentId": "a2"}, 2, 2, 1),
        ({"agentId": "a3"}, 1, 1, 0),
        ({"agentId": "a4"}, 1, 0, 0),
        ({"toolId": "srv2"}, 3, 3, 2),
        ({"toolName": "search"}, 2, 3, 1),
        ({"toolId": "srv1", "toolName": "lookup"}, 1, 1, 1),
        ({"status": "error"}, 1, 2, 2),
        ({"status": "cancelled"}, 1, 1, 0),
        ({"graphId": "g1", "status": "success"}, 3, 4, 2),
        ({"graphId": "nope"}, 0, 0, 0),
    ],
)
async def test_each_filter_selects_queries_and_tool_calls(
    seeded: httpx.AsyncClient, filters: dict[str, str], queries: int, calls: int, errors: int
) -> None:
    found = await summary(seeded, **filters)
    assert found["filters"] == filters
    current = found["current"]
    assert (current["queries"], current["toolCalls"]) == (queries, calls)
    assert current["toolCallErrorRate"] == (errors / calls if calls else None)


async def test_a_filter_narrows_durations_and_percentiles(seeded: httpx.AsyncClient) -> None:
    current = (await summary(seeded, toolId="srv2"))["current"]
    # Queries q2 (3000), q3 (2000), q5 (4000); calls c3 (50), c5 (0), c7 (400).
    assert current["queryDurationMs"] == {"avg": 3000.0, "p95": 4000}
    assert current["toolCallLatencyMs"] == {"avg": 150.0, "p50": 50, "p95": 400, "p99": 400}
    assert current["avgToolCallsPerQuery"] == 1.0
    assert (current["approvalsRequested"], current["toolCallsRejected"]) == (2, 1)


async def test_the_default_window_is_the_last_24_hours(client: httpx.AsyncClient, project: str, store: Store) -> None:
    import time

    now = time.time_ns() // 1_000_000
    await insert_rows(
        store,
        [query_row("recent", now - 2 * H, 100), query_row("older", now - 30 * H, 300)],
        calls=[tool_call_row("c", "recent", "a1", "srv1/search", now - 2 * H, 40)],
    )
    response = await client.get(f"{BASE}/summary", params={"compare": "previous"})
    assert response.status_code == 200, response.text
    found = response.json()["data"]
    assert found["window"] == "24h"
    assert found["current"]["queries"] == 1
    assert found["current"]["toolCallLatencyMs"]["p50"] == 40
    assert found["previous"]["queries"] == 1
    assert found["previous"]["queryDurationMs"] == {"avg": 300.0, "p95": 300}


async def test_to_alone_takes_the_window_before_it(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get(f"{BASE}/summary", params={"to": iso(4 * H), "window": "2h"})
    found = response.json()["data"]
    assert (found["window"], found["from"], found["to"]) == ("2h", iso(2 * H), iso(4 * H))
    assert found["current"]["queries"] == 1  # q5


async def test_an_offset_in_from_and_to_is_honoured(seeded: httpx.AsyncClient) -> None:
    found = await summary(seeded, **{"from": "2026-01-05T01:00:00+01:00", "to": "2026-01-05T05:00:00+01:00"})
    assert found["from"] == iso(0)
    assert found["current"] == CURRENT


async def test_other_projects_rows_are_not_counted(seeded: httpx.AsyncClient, store: Store) -> None:
    response = await seeded.post("/tenants/t1/crud/projects", json={"id": "p2", "name": "P2", "description": "x"})
    assert response.status_code == 201
    other = query_row("q1", at(0), 77) | {"project_id": "p2"}
    async with store.write("t1/p2") as session:
        from inkeep_runtime.store.tables import QueryLog

        await session.execute(QueryLog.__table__.insert(), [other])  # type: ignore[attr-defined]
    assert (await summary(seeded))["current"]["queries"] == 5
    other_summary = await seeded.get("/tenants/t1/crud/projects/p2/analytics/summary", params=RANGE)
    assert other_summary.json()["data"]["current"]["queryDurationMs"] == {"avg": 77.0, "p95": 77}
    assert T0 > 0
