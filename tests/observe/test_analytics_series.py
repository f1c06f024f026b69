"""GET …/analytics/timeseries and …/analytics/errors against the hand-built data set, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inkeep_runtime.store.engine import Store
from tests.observe.analytics_data import (
    BASE,
    H,
    M,
    iso,
    seed,
    settings,  # noqa: F401 - retention off for the fixed data set
)

RANGE = {"from": iso(0), "to": iso(4 * H), "frequency": "1h"}
HOURS = [iso(0), iso(H), iso(2 * H), iso(3 * H)]


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str, store: Store) -> httpx.AsyncClient:
    await seed(store)
    return client


async def series(client: httpx.AsyncClient, metric: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/timeseries", params={**RANGE, "metric": metric, **params})
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def points(found: dict[str, Any]) -> list[tuple[Any, int]]:
    return [(point["value"], point["count"]) for point in found["points"]]


@pytest.mark.parametrize(
    ("metric", "unit", "expected"),
    [
        # q3 and c4 start exactly at T0+1h: the later bucket.
        ("queries", "count", [(2, 2), (2, 2), (0, 0), (1, 1)]),
        ("tool_calls", "count", [(3, 3), (3, 3), (0, 0), (1, 1)]),
        ("tool_call_errors", "count", [(1, 3), (2, 3), (0, 0), (1, 1)]),
        ("tool_call_error_rate", "fraction", [(1 / 3, 3), (2 / 3, 3), (None, 0), (1.0, 1)]),
        ("tool_call_latency_avg", "ms", [(150.0, 3), (300.0, 3), (None, 0), (400.0, 1)]),
        ("tool_call_latency_p95", "ms", [(300, 3), (700, 3), (None, 0), (400, 1)]),
        ("tool_calls_per_query", "calls_per_query", [(1.5, 2), (1.5, 2), (None, 0), (1.0, 1)]),
        ("query_duration_avg", "ms", [(2000.0, 2), (3500.0, 2), (None, 0), (4000.0, 1)]),
        ("tokens", "tokens", [(430, 2), (470, 2), (0, 0), (30, 1)]),
    ],
)
async def test_every_metric_per_hour(
    seeded: httpx.AsyncClient, metric: str, unit: str, expected: list[tuple[Any, int]]
) -> None:
    found = await series(seeded, metric)
    assert (found["metric"], found["unit"], found["frequency"], found["window"]) == (metric, unit, "1h", None)
    assert [point["timestamp"] for point in found["points"]] == HOURS
    assert points(found) == expected
    if unit in {"count", "tokens"}:
        assert all(type(point["value"]) is int for point in found["points"])


async def test_buckets_are_aligned_to_the_epoch_not_to_from(seeded: httpx.AsyncClient) -> None:
    # [T0+30m, T0+2h): two hourly buckets, the first starting before `from` and counting only q2.
    found = await series(seeded, "queries", **{"from": iso(30 * M), "to": iso(2 * H)})
    assert [point["timestamp"] for point in found["points"]] == [iso(0), iso(H)]
    assert points(found) == [(1, 1), (2, 2)]


async def test_a_bucket_edge_row_lands_in_the_later_bucket(seeded: httpx.AsyncClient) -> None:
    found = await series(seeded, "tool_calls", frequency="30m", **{"from": iso(30 * M), "to": iso(90 * M)})
    # c3 at +30m+500 → first bucket; c4 exactly at +60m and c5 at +60m+200 → second.
    assert points(found) == [(1, 1), (2, 2)]


async def test_weekly_buckets_start_on_monday(seeded: httpx.AsyncClient) -> None:
    found = await series(seeded, "queries", frequency="1w", **{"from": iso(-3 * 24 * H), "to": iso(7 * 24 * H)})
    # T0 is a Monday: the week before it starts on the Monday seven days earlier.
    assert [point["timestamp"] for point in found["points"]] == [iso(-7 * 24 * H), iso(0)]
    assert points(found) == [(2, 2), (6, 6)]  # p1, p2 | q1..q6


async def test_an_empty_range_has_every_bucket(seeded: httpx.AsyncClient) -> None:
    found = await series(seeded, "tool_call_latency_p95", **{"from": iso(48 * H), "to": iso(54 * H)})
    assert points(found) == [(None, 0)] * 6
    found = await series(seeded, "queries", **{"from": iso(48 * H), "to": iso(54 * H)})
    assert points(found) == [(0, 0)] * 6


async def test_filters_apply_to_series(seeded: httpx.AsyncClient) -> None:
    found = await series(seeded, "tool_calls", toolId="srv2")
    assert found["filters"] == {"toolId": "srv2"}
    assert points(found) == [(1, 1), (1, 1), (0, 0), (1, 1)]
    found = await series(seeded, "queries", agentId="a2")
    assert points(found) == [(1, 1), (0, 0), (0, 0), (1, 1)]


async def test_the_default_frequency_is_hourly_or_coarser_to_fit(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get(f"{BASE}/timeseries", params={"metric": "queries", "window": "90d", "to": iso(0)})
    found = response.json()["data"]
    assert found["frequency"] == "1d"
    assert len(found["points"]) == 90
    response = await seeded.get(f"{BASE}/timeseries", params={"metric": "queries", "to": iso(0)})
    found = response.json()["data"]
    assert (found["frequency"], found["window"], len(found["points"])) == ("1h", "24h", 24)
    assert sum(point["value"] for point in found["points"]) == 2  # p1, p2


async def errors(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/errors", params={**RANGE, **params})
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def series_of(value: list[int]) -> list[dict[str, Any]]:
    return [{"timestamp": stamp, "value": count} for stamp, count in zip(HOURS, value, strict=True)]


async def test_error_types_with_shares_and_series(seeded: httpx.AsyncClient) -> None:
    assert await errors(seeded) == {
        "window": None,
        "frequency": "1h",
        "from": iso(0),
        "to": iso(4 * H),
        "filters": {},
        "totalErrors": 4,
        "totalToolCalls": 7,
        "errorRate": 4 / 7,
        "types": [
            {"errorType": "timeout", "count": 2, "share": 0.5, "points": series_of([1, 0, 0, 1])},
            {"errorType": "approval_rejected", "count": 1, "share": 0.25, "points": series_of([0, 1, 0, 0])},
            {"errorType": "internal", "count": 1, "share": 0.25, "points": series_of([0, 1, 0, 0])},
        ],
        "queries": {
            "totalErrors": 1,
            "totalQueries": 5,
            "errorRate": 0.2,
            "types": [{"errorType": "llm_error", "count": 1, "share": 1.0, "points": series_of([0, 1, 0, 0])}],
        },
    }


async def test_error_types_of_an_empty_range(seeded: httpx.AsyncClient) -> None:
    found = await errors(seeded, frequency="1d", **{"from": iso(48 * H), "to": iso(72 * H)})
    assert (found["totalErrors"], found["totalToolCalls"], found["errorRate"], found["types"]) == (0, 0, None, [])
    assert found["queries"] == {"totalErrors": 0, "totalQueries": 0, "errorRate": None, "types": []}


async def test_error_types_follow_the_filters(seeded: httpx.AsyncClient) -> None:
    found = await errors(seeded, agentId="a1")
    # a1's calls: c1 ok, c2 timeout, c4 internal, c5 approval_rejected.
    assert [(t["errorType"], t["count"]) for t in found["types"]] == [
        ("approval_rejected", 1),
        ("internal", 1),
        ("timeout", 1),
    ]
    assert (found["totalErrors"], found["totalToolCalls"]) == (3, 4)
    found = await errors(seeded, status="success")
    assert [(t["errorType"], t["count"]) for t in found["types"]] == [("timeout", 2)]
    assert found["queries"]["types"] == []


async def test_the_previous_range_has_its_own_query_errors(seeded: httpx.AsyncClient) -> None:
    found = await errors(seeded, **{"from": iso(-4 * H), "to": iso(0)})
    assert found["queries"]["types"][0]["errorType"] == "timeout"
    assert found["queries"]["types"][0]["points"][0] == {"timestamp": iso(-4 * H), "value": 1}
    assert found["totalToolCalls"] == 1
