"""Exact nearest-rank percentiles on small sets (1, 2 and 100 rows), per range, per bucket and per group."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from inkeep_runtime.store.engine import Store
from tests.observe.analytics_data import (
    BASE,
    H,
    M,
    at,
    insert_rows,
    iso,
    query_row,
    settings,  # noqa: F401 - retention off for the fixed data set
    tool_call_row,
)

RANGE = {"from": iso(0), "to": iso(H)}


@pytest.fixture
async def ready(client: httpx.AsyncClient, project: str) -> httpx.AsyncClient:
    return client


async def seed_latencies(store: Store, latencies: list[int], *, tool: str = "srv1/search", prefix: str = "") -> None:
    """One query per latency (its duration ten times the latency) with one tool call, inside [T0, T0+1h)."""
    queries = [query_row(f"{prefix}q{i}", at(i * 1000), 10 * ms) for i, ms in enumerate(latencies)]
    calls = [
        tool_call_row(f"{prefix}c{i}", f"{prefix}q{i}", "a1", tool, at(i * 1000 + 1), ms)
        for i, ms in enumerate(latencies)
    ]
    await insert_rows(store, queries, calls=calls)


async def get(client: httpx.AsyncClient, route: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/{route}", params={**RANGE, **params})
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


@pytest.mark.parametrize(
    ("latencies", "expected"),
    [
        ([7], {"avg": 7.0, "p50": 7, "p95": 7, "p99": 7}),
        ([20, 10], {"avg": 15.0, "p50": 10, "p95": 20, "p99": 20}),
        ([5, 5, 5], {"avg": 5.0, "p50": 5, "p95": 5, "p99": 5}),
        ([1, 2, 3, 4], {"avg": 2.5, "p50": 2, "p95": 4, "p99": 4}),
        ([1, 1, 2], {"avg": 1.333, "p50": 1, "p95": 2, "p99": 2}),
    ],
)
async def test_small_sets(ready: httpx.AsyncClient, store: Store, latencies: list[int], expected: Any) -> None:
    await seed_latencies(store, latencies)
    current = (await get(ready, "summary"))["current"]
    assert current["toolCallLatencyMs"] == expected
    durations = {"avg": round(10 * sum(latencies) / len(latencies), 3), "p95": 10 * expected["p95"]}
    assert current["queryDurationMs"] == durations


async def test_one_hundred_rows(ready: httpx.AsyncClient, store: Store) -> None:
    latencies = list(range(1, 101))
    random.Random(6).shuffle(latencies)
    await seed_latencies(store, latencies)
    current = (await get(ready, "summary"))["current"]
    assert current["toolCallLatencyMs"] == {"avg": 50.5, "p50": 50, "p95": 95, "p99": 99}
    assert current["queryDurationMs"] == {"avg": 505.0, "p95": 950}


async def test_one_hundred_and_one_rows_round_the_rank_up(ready: httpx.AsyncClient, store: Store) -> None:
    await seed_latencies(store, list(range(101, 0, -1)))
    # ceil(0.5 * 101) = 51, ceil(0.95 * 101) = 96, ceil(0.99 * 101) = 100.
    assert (await get(ready, "summary"))["current"]["toolCallLatencyMs"] == {
        "avg": 51.0,
        "p50": 51,
        "p95": 96,
        "p99": 100,
    }


async def test_percentiles_per_group_do_not_mix(ready: httpx.AsyncClient, store: Store) -> None:
    await seed_latencies(store, list(range(1, 101)), tool="srv1/slow")
    await seed_latencies(store, [3, 1], tool="srv2/fast", prefix="f")
    await seed_latencies(store, [9], tool="srv2/once", prefix="o")
    rows = (await get(ready, "tools", sort="p95LatencyMs"))["tools"]
    assert [(row["toolName"], row["latencyMs"]) for row in rows] == [
        ("slow", {"avg": 50.5, "p95": 95}),
        ("once", {"avg": 9.0, "p95": 9}),
        ("fast", {"avg": 2.0, "p95": 3}),
    ]
    agents = (await get(ready, "agents"))["agents"]
    # 103 calls: 1..100 plus 3, 1 and 9; rank ceil(0.95 * 103) = 98 holds 95 (98 values are <= 95).
    assert agents[0]["toolCallLatencyMs"] == {"avg": round(5063 / 103, 3), "p95": 95}


async def test_percentiles_per_bucket_do_not_mix(ready: httpx.AsyncClient, store: Store) -> None:
    # 100 calls in the first ten minutes, two in the second, none in the third.
    await seed_latencies(store, list(range(1, 101)))
    queries = [query_row("late1", at(10 * M), 1), query_row("late2", at(10 * M + 1), 1)]
    calls = [
        tool_call_row("l1", "late1", "a1", "srv1/search", at(10 * M + 5), 1000),
        tool_call_row("l2", "late2", "a1", "srv1/search", at(10 * M + 6), 2000),
    ]
    await insert_rows(store, queries, calls=calls)
    found = await get(ready, "timeseries", metric="tool_call_latency_p95", frequency="10m", to=iso(30 * M))
    assert [(point["value"], point["count"]) for point in found["points"]] == [(95, 100), (2000, 2), (None, 0)]
