"""Analytics parameters: durations, ranges and buckets (pure), 400s that name the parameter, the OpenAPI entries,
and the SQL table handles against the schema."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inkeep_runtime.errors import InvalidRequest
from inkeep_runtime.observe.analytics_params import (
    TimeRange,
    buckets_for,
    default_buckets,
    duration_ms,
    iso_ms,
    parse_instant_ms,
    resolve_range,
)
from inkeep_runtime.observe.analytics_sql import QUERY_LOGS, QUERY_STEPS, TOOL_CALLS
from inkeep_runtime.store import tables
from tests.observe.analytics_data import (
    BASE,
    T0,
    H,
    M,
    at,
    iso,
    settings,  # noqa: F401 - retention off for the fixed data set
)

DAY = 24 * H


@pytest.fixture
def backend() -> str:
    """Validation and the document do not depend on the database: SQLite only."""
    return "sqlite"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("15m", 15 * M), ("24h", DAY), ("7d", 7 * DAY), ("2w", 14 * DAY), ("1mo", 30 * DAY), ("90m", 90 * M)],
)
def test_durations(text: str, expected: int) -> None:
    assert duration_ms(text) == expected


@pytest.mark.parametrize("text", ["", "24", "h", "1y", "1mon", "1.5h", "-1h", "0h", "1H", " 1h", "1h "])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"Expected a"):
        duration_ms(text)


def test_instants() -> None:
    assert parse_instant_ms("2026-01-05T00:00:00Z") == T0
    assert parse_instant_ms("2026-01-05") == T0
    assert parse_instant_ms("2026-01-05T00:00:00.0019") == T0 + 1  # UTC when naive; sub-ms digits dropped
    assert parse_instant_ms("2026-01-05T02:00:00+02:00") == T0
    assert iso_ms(T0 + 1) == "2026-01-05T00:00:00.001Z"


def test_range_precedence() -> None:
    now = at(10 * H + 123)
    assert resolve_range(window="2h", start=None, end=None, now_ms=now) == TimeRange(
        start_ms=now - 2 * H, end_ms=now, window="2h"
    )
    assert resolve_range(window="2h", start=iso(0), end=None, now_ms=now) == TimeRange(
        start_ms=T0, end_ms=now, window=None
    )
    assert resolve_range(window="2h", start=None, end=iso(H), now_ms=now) == TimeRange(
        start_ms=T0 - H, end_ms=T0 + H, window="2h"
    )
    assert resolve_range(window="2h", start=iso(0), end=iso(5 * H), now_ms=now).length_ms == 5 * H


def test_previous_range() -> None:
    span = TimeRange(start_ms=T0, end_ms=T0 + 3 * H, window="3h")
    assert span.previous() == TimeRange(start_ms=T0 - 3 * H, end_ms=T0, window="3h")


def test_buckets_are_epoch_aligned() -> None:
    span = TimeRange(start_ms=at(30 * M), end_ms=at(3 * H), window=None)
    buckets = buckets_for(span, "1h")
    assert (buckets.origin_ms, buckets.count, buckets.width_ms) == (T0, 3, H)
    assert buckets.starts() == [T0, T0 + H, T0 + 2 * H]
    assert buckets_for(TimeRange(start_ms=T0, end_ms=at(3 * H + 1), window=None), "1h").count == 4
    assert buckets_for(TimeRange(start_ms=T0, end_ms=at(3 * H), window=None), "1h").count == 3


def test_week_buckets_start_on_monday() -> None:
    buckets = buckets_for(TimeRange(start_ms=at(2 * DAY), end_ms=at(9 * DAY), window=None), "1w")
    assert (buckets.origin_ms, buckets.count) == (T0, 2)  # T0 is a Monday
    assert iso_ms(buckets_for(TimeRange(start_ms=0, end_ms=DAY, window=None), "1w").origin_ms).startswith("1969-12-29")


def test_default_buckets_coarsen_to_fit() -> None:
    assert default_buckets(TimeRange(start_ms=T0, end_ms=at(DAY), window=None)).frequency == "1h"
    assert default_buckets(TimeRange(start_ms=T0, end_ms=at(41 * DAY), window=None)).frequency == "1h"
    assert default_buckets(TimeRange(start_ms=T0, end_ms=at(42 * DAY), window=None)).frequency == "1d"
    assert default_buckets(TimeRange(start_ms=T0, end_ms=at(3650 * DAY), window=None)).frequency == "1w"


def test_too_many_buckets() -> None:
    span = TimeRange(start_ms=T0, end_ms=at(1000 * M), window=None)
    assert buckets_for(span, "1m").count == 1000
    with pytest.raises(InvalidRequest, match="gives 1001 buckets") as caught:
        buckets_for(TimeRange(start_ms=T0, end_ms=at(1000 * M + 1), window=None), "1m")
    assert caught.value.errors[0].pointer == "query.frequency"


async def problem(client: httpx.AsyncClient, route: str, params: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"{BASE}/{route}", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


@pytest.mark.parametrize(
    ("route", "params", "field", "says"),
    [
        ("summary", {"window": "1y"}, "query.window", r"^\d+(m|h|d|w|mo)$"),
        ("summary", {"window": "0h"}, "query.window", "positive"),
        ("summary", {"window": "3651d"}, "query.window", "at most 3650d"),
        ("summary", {"from": "yesterday"}, "query.from", "ISO-8601"),
        ("summary", {"to": "2026-13-01"}, "query.to", "ISO-8601"),
        ("summary", {"from": iso(H), "to": iso(H)}, "query.from", "before to"),
        ("summary", {"compare": "last"}, "query.compare", "previous"),
        ("summary", {"status": "failed"}, "query.status", "'success', 'error' or 'cancelled'"),
        ("summary", {"windw": "1h"}, "query.windw", "Unknown field"),
        ("timeseries", {}, "query.metric", "Field required"),
        ("timeseries", {"metric": "latency"}, "query.metric", "'tool_call_latency_p95'"),
        ("timeseries", {"metric": "queries", "frequency": "1x"}, "query.frequency", r"^\d+(m|h|d|w|mo)$"),
        ("timeseries", {"metric": "queries", "window": "30d", "frequency": "1m"}, "query.frequency", "at most 1000"),
        ("errors", {"from": iso(0), "to": iso(2 * DAY), "frequency": "2m"}, "query.frequency", "1440 buckets"),
        ("tools", {"groupBy": "agent"}, "query.groupBy", "'agent_tool'"),
        ("tools", {"sort": "latency"}, "query.sort", "'p95LatencyMs'"),
        ("tools", {"order": "up"}, "query.order", "'asc' or 'desc'"),
        ("tools", {"limit": "1001"}, "query.limit", "1000"),
        ("tools", {"limit": "0"}, "query.limit", "1"),
        ("agents", {"sort": "calls"}, "query.sort", "'queriesActive'"),
        ("agents", {"toolId": "srv1"}, "query.toolId", "Unknown field"),
    ],
)
async def test_bad_parameters_are_400s_naming_them(
    client: httpx.AsyncClient, project: str, route: str, params: dict[str, str], field: str, says: str
) -> None:
    found = await problem(client, route, params)
    assert [error["field"] for error in found["errors"]] == [field]
    assert says in found["errors"][0]["message"]
    assert field.removeprefix("query.") in found["detail"]


async def test_blank_parameters_are_defaults(client: httpx.AsyncClient, project: str) -> None:
    response = await client.get(f"{BASE}/summary", params={"window": "", "graphId": ""})
    assert response.status_code == 200
    assert (response.json()["data"]["window"], response.json()["data"]["filters"]) == ("24h", {})


async def test_an_unknown_project_is_404(client: httpx.AsyncClient) -> None:
    for route in ("summary", "timeseries?metric=queries", "tools", "agents", "errors"):
        response = await client.get(f"/tenants/t1/crud/projects/nope/analytics/{route}")
        assert response.status_code == 404, route


async def test_routes_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    prefix = "/tenants/{tenantId}/crud/projects/{projectId}/analytics"
    expected = {
        "summary": {"window", "from", "to", "compare", "graphId", "agentId", "toolId", "toolName", "status"},
        "timeseries": {"metric", "frequency", "window", "from", "to", "graphId", "status"},
        "tools": {"groupBy", "sort", "order", "limit", "window", "graphId", "agentId"},
        "agents": {"sort", "order", "limit", "window", "graphId"},
        "errors": {"frequency", "window", "toolName"},
    }
    for route, parameters in expected.items():
        operation = document["paths"][f"{prefix}/{route}"]["get"]
        assert operation["tags"] == ["Analytics"]
        assert parameters <= {p["name"] for p in operation["parameters"]}, route
        assert "400" in operation["responses"]
        assert "half-open" in operation["description"]
    summary_schema = document["paths"][f"{prefix}/summary"]["get"]["responses"]["200"]["content"]
    assert summary_schema["application/json"]["schema"]


def test_the_sql_handles_name_real_columns() -> None:
    for handle, model in (
        (QUERY_LOGS, tables.QueryLog),
        (QUERY_STEPS, tables.QueryStep),
        (TOOL_CALLS, tables.ToolCallLog),
    ):
        table = model.__table__  # type: ignore[attr-defined]
        assert handle.name == table.name
        assert set(handle.c.keys()) <= set(table.c.keys()), handle.name
