"""GET …/analytics/tools and …/analytics/agents against the hand-built data set, on both backends."""

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

RANGE = {"from": iso(0), "to": iso(4 * H)}


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str, store: Store) -> httpx.AsyncClient:
    await seed(store)
    return client


async def tools(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/tools", params={**RANGE, **params})
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def tool(
    tool_id: str,
    name: str | None,
    calls: int,
    errors: int,
    avg: float,
    p95: int,
    queries: int,
    last: int,
    agent: str | None = None,
) -> dict[str, Any]:
    return {
        "toolId": tool_id,
        "toolServerName": {"srv1": "Search", "srv2": "Files"}[tool_id],
        "toolName": name,
        "agentId": agent,
        "calls": calls,
        "errors": errors,
        "errorRate": errors / calls,
        "latencyMs": {"avg": avg, "p95": p95},
        "queries": queries,
        "lastUsedAt": iso(last),
    }


SEARCH = tool("srv1", "search", 3, 1, 200.0, 300, 2, H + 59 * M + 10)
READ = tool("srv2", "read", 2, 1, 225.0, 400, 2, 3 * H + 100)
LOOKUP = tool("srv1", "lookup", 1, 1, 700.0, 700, 1, H)
WRITE = tool("srv2", "write", 1, 1, 0.0, 0, 1, H + 200)


async def test_tools_by_calls_with_ties_by_id(seeded: httpx.AsyncClient) -> None:
    found = await tools(seeded)
    assert {key: found[key] for key in ("groupBy", "sort", "order", "limit", "total")} == {
        "groupBy": "tool",
        "sort": "calls",
        "order": "desc",
        "limit": 100,
        "total": 4,
    }
    assert found["tools"] == [SEARCH, READ, LOOKUP, WRITE]


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("errorRate", "desc", [LOOKUP, WRITE, READ, SEARCH]),
        ("errorRate", "asc", [SEARCH, READ, LOOKUP, WRITE]),
        ("p95LatencyMs", "asc", [WRITE, SEARCH, READ, LOOKUP]),
        ("lastUsedAt", "desc", [READ, SEARCH, WRITE, LOOKUP]),
        ("calls", "asc", [LOOKUP, WRITE, READ, SEARCH]),
    ],
)
async def test_tools_sorted(seeded: httpx.AsyncClient, sort: str, order: str, expected: list[Any]) -> None:
    assert (await tools(seeded, sort=sort, order=order))["tools"] == expected


async def test_tools_limit_keeps_the_total(seeded: httpx.AsyncClient) -> None:
    found = await tools(seeded, limit="2")
    assert (found["total"], found["tools"]) == (4, [SEARCH, READ])


async def test_tools_grouped_by_server(seeded: httpx.AsyncClient) -> None:
    found = await tools(seeded, groupBy="server")
    assert found["tools"] == [
        tool("srv1", None, 4, 2, 325.0, 700, 3, H + 59 * M + 10),
        tool("srv2", None, 3, 2, 150.0, 400, 3, 3 * H + 100),
    ]


async def test_tools_grouped_by_agent_and_tool(seeded: httpx.AsyncClient) -> None:
    found = await tools(seeded, groupBy="agent_tool")
    assert found["tools"] == [
        tool("srv1", "search", 2, 1, 200.0, 300, 1, 10 * M + 200, agent="a1"),
        tool("srv2", "read", 2, 1, 225.0, 400, 2, 3 * H + 100, agent="a2"),
        tool("srv1", "lookup", 1, 1, 700.0, 700, 1, H, agent="a1"),
        tool("srv2", "write", 1, 1, 0.0, 0, 1, H + 200, agent="a1"),
        tool("srv1", "search", 1, 0, 200.0, 200, 1, H + 59 * M + 10, agent="a3"),
    ]


async def test_tools_filtered(seeded: httpx.AsyncClient) -> None:
    assert (await tools(seeded, agentId="a2"))["tools"] == [READ]
    found = await tools(seeded, graphId="g2")
    assert found["filters"] == {"graphId": "g2"}
    assert found["tools"] == [tool("srv1", "search", 1, 0, 200.0, 200, 1, H + 59 * M + 10)]
    assert (await tools(seeded, **{"from": iso(5 * H), "to": iso(6 * H)}))["tools"] == []


async def agents(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/agents", params={**RANGE, **params})
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def agent(agent_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "agentId": agent_id,
        "queriesEntered": 0,
        "queriesActive": 0,
        "llmCalls": 0,
        "inputTokens": 0,
        "outputTokens": 0,
        "toolCalls": 0,
        "toolCallErrorRate": None,
        "toolCallLatencyMs": {"avg": None, "p95": None},
        "transfersIn": 0,
        "transfersOut": 0,
        "delegationsIn": 0,
        "delegationsOut": 0,
    }
    return row | values


A1 = agent(
    "a1",
    queriesEntered=4,
    queriesActive=4,
    llmCalls=4,
    inputTokens=470,
    outputTokens=190,
    toolCalls=4,
    toolCallErrorRate=0.75,
    toolCallLatencyMs={"avg": 275.0, "p95": 700},
    transfersOut=1,
    delegationsOut=1,
)
A2 = agent(
    "a2",
    queriesEntered=1,
    queriesActive=2,
    llmCalls=2,
    inputTokens=90,
    outputTokens=50,
    toolCalls=2,
    toolCallErrorRate=0.5,
    toolCallLatencyMs={"avg": 225.0, "p95": 400},
    transfersIn=1,
    transfersOut=1,
)
A3 = agent(
    "a3",
    queriesActive=1,
    llmCalls=1,
    inputTokens=100,
    outputTokens=20,
    toolCalls=1,
    toolCallErrorRate=0.0,
    toolCallLatencyMs={"avg": 200.0, "p95": 200},
    delegationsIn=1,
)
A4 = agent("a4", queriesActive=1, llmCalls=1, inputTokens=5, outputTokens=5, transfersIn=1)


async def test_agents_by_queries_active(seeded: httpx.AsyncClient) -> None:
    found = await agents(seeded)
    assert {key: found[key] for key in ("window", "from", "to", "filters", "sort", "order", "limit", "total")} == {
        "window": None,
        "from": iso(0),
        "to": iso(4 * H),
        "filters": {},
        "sort": "queriesActive",
        "order": "desc",
        "limit": 100,
        "total": 4,
    }
    assert found["agents"] == [A1, A2, A3, A4]


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("toolCallErrorRate", "asc", [A3, A2, A1, A4]),  # nulls last
        ("toolCallErrorRate", "desc", [A1, A2, A3, A4]),
        ("queriesEntered", "desc", [A1, A2, A3, A4]),
        ("tokens", "asc", [A4, A3, A2, A1]),
        ("p95LatencyMs", "desc", [A1, A2, A3, A4]),
        ("llmCalls", "asc", [A3, A4, A2, A1]),
        ("toolCalls", "desc", [A1, A2, A3, A4]),
    ],
)
async def test_agents_sorted(seeded: httpx.AsyncClient, sort: str, order: str, expected: list[Any]) -> None:
    assert (await agents(seeded, sort=sort, order=order))["agents"] == expected


async def test_agents_limit(seeded: httpx.AsyncClient) -> None:
    found = await agents(seeded, limit="1", sort="tokens", order="asc")
    assert (found["total"], found["agents"]) == (4, [A4])


async def test_agents_of_one_graph(seeded: httpx.AsyncClient) -> None:
    found = await agents(seeded, graphId="g2")
    assert found["filters"] == {"graphId": "g2"}
    assert found["agents"] == [
        agent("a1", queriesEntered=1, queriesActive=1, llmCalls=1, inputTokens=200, outputTokens=100, delegationsOut=1),
        agent(
            "a3",
            queriesActive=1,
            llmCalls=1,
            inputTokens=100,
            outputTokens=20,
            toolCalls=1,
            toolCallErrorRate=0.0,
            toolCallLatencyMs={"avg": 200.0, "p95": 200},
            delegationsIn=1,
        ),
    ]


async def test_agents_of_an_empty_range(seeded: httpx.AsyncClient) -> None:
    found = await agents(seeded, **{"from": iso(5 * H), "to": iso(6 * H)})
    assert (found["total"], found["agents"]) == (0, [])


async def test_agents_previous_range(seeded: httpx.AsyncClient) -> None:
    found = await agents(seeded, **{"from": iso(-4 * H), "to": iso(0)})
    assert found["agents"] == [
        agent(
            "a1",
            queriesEntered=2,
            queriesActive=1,
            llmCalls=1,
            inputTokens=20,
            outputTokens=5,
            toolCalls=1,
            toolCallErrorRate=0.0,
            toolCallLatencyMs={"avg": 1000.0, "p95": 1000},
        )
    ]
