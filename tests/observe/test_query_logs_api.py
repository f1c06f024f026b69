"""The query-log routes: list (filters, keyset paging, 400s), detail and trace, over hand-made rows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.query_logs import insert_records
from tests.observe.querylog_harness import make_record

BASE = "/tenants/t1/crud/projects/p1/query-logs"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00.000Z


async def _ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get(BASE, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


@pytest.fixture
async def seeded(client: httpx.AsyncClient, project: str, store: Store) -> None:
    """Six queries: a transfer-and-tools one, an error, a cancelled one, and three at the same millisecond."""
    await insert_records(
        store,
        [
            make_record(
                "q1",
                T0,
                graph_id="support",
                input="Where is my INVOICE 100%?",
                final_agent_id="billing",
                transfers=1,
                end_user_id="user-7",
                calls=[{"tool_id": "crm", "tool_name": "lookup"}, {"tool_id": "mail", "success": False}],
                steps=[{"kind": "transfer", "target_agent_id": "billing"}, {"agent_id": "billing"}],
            ),
            make_record("q2", T0 + 1000, status="error", error_type="llm_error", conversation_id="c-shared"),
            make_record("q3", T0 + 2000, status="cancelled", conversation_id="c-shared"),
            *(make_record(f"q{i}", T0 + 3000) for i in (4, 5, 6)),
        ],
    )


@pytest.mark.usefixtures("seeded")
async def test_list_item_shape_and_newest_first(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE, params={"search": "invoice"})
    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "id": "q1",
                "graphId": "support",
                "conversationId": "conv-q1",
                "source": "chat_completions",
                "entryAgentId": "router",
                "finalAgentId": "billing",
                "input": "Where is my INVOICE 100%?",
                "status": "success",
                "errorType": None,
                "startedAt": "2026-01-01T00:00:00.000Z",
                "durationMs": 100,
                "llmCalls": 1,
                "toolCalls": 2,
                "toolErrors": 1,
                "transfers": 1,
                "delegations": 0,
                "tools": [{"toolId": "crm", "name": "crm server"}, {"toolId": "mail", "name": "mail server"}],
                "inputTokens": 10,
                "outputTokens": 5,
            }
        ],
        "pagination": {"limit": 20, "nextCursor": None, "hasNext": False},
    }
    assert await _ids(client) == ["q6", "q5", "q4", "q3", "q2", "q1"]


@pytest.mark.usefixtures("seeded")
async def test_keyset_pages_cover_every_query_once_across_equal_timestamps(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(BASE, params=params)).json()
        seen += [item["id"] for item in body["data"]]
        pages += 1
        cursor = body["pagination"]["nextCursor"]
        assert body["pagination"]["hasNext"] is (cursor is not None)
        if cursor is None:
            break
    assert (seen, pages) == (["q6", "q5", "q4", "q3", "q2", "q1"], 3)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"graphId": "support"}, ["q1"]),
        ({"agentId": "billing"}, ["q1"]),  # took a step, though it did not enter
        ({"agentId": "router"}, ["q6", "q5", "q4", "q3", "q2", "q1"]),
        ({"toolId": "crm"}, ["q1"]),
        ({"toolName": "lookup"}, ["q1"]),
        ({"toolId": "crm", "toolName": "echo"}, []),
        ({"status": "error"}, ["q2"]),
        ({"status": "cancelled"}, ["q3"]),
        ({"conversationId": "c-shared"}, ["q3", "q2"]),
        ({"endUserId": "user-7"}, ["q1"]),
        ({"from": "2026-01-01T00:00:01Z", "to": "2026-01-01T00:00:03Z"}, ["q3", "q2"]),  # from inclusive, to not
        ({"from": "2026-01-01T00:00:03.000+00:00"}, ["q6", "q5", "q4"]),
        ({"search": "100%"}, ["q1"]),  # % is literal, matching is case-insensitive
        ({"search": "_"}, []),
        ({"graphId": ""}, ["q6", "q5", "q4", "q3", "q2", "q1"]),  # blank means no filter
    ],
)
async def test_filters(client: httpx.AsyncClient, params: dict[str, str], expected: list[str]) -> None:
    assert await _ids(client, **params) == expected


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "failed"}, "query.status"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "101"}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"from": "yesterday"}, "query.from"),
        ({"to": "2026-13-01"}, "query.to"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": "WyJ4IiwgInkiXQ"}, "query.cursor"),  # valid base64 JSON, wrong shape
    ],
)
async def test_invalid_parameters_are_400_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get(BASE, params=params)
    assert response.status_code == 400, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]


@pytest.mark.usefixtures("project")
async def test_detail_is_the_whole_row(client: httpx.AsyncClient, store: Store) -> None:
    usage = [{"agentId": "router", "model": "m", "inputTokens": 10, "outputTokens": 5, "llmCalls": 1}]
    record = make_record("q1", T0, api_key_id="key-1", trace_id="a" * 32, span_id="b" * 16, usage=usage, status="error")
    record.log.update(error_type="timeout", error_message="The tool timed out.")
    await insert_records(store, [record])
    response = await client.get(f"{BASE}/q1")
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "id": "q1",
            "graphId": "g",
            "conversationId": "conv-q1",
            "source": "chat_completions",
            "entryAgentId": "router",
            "finalAgentId": "router",
            "input": "question q1",
            "output": "answer q1",
            "status": "error",
            "errorType": "timeout",
            "errorMessage": "The tool timed out.",
            "startedAt": "2026-01-01T00:00:00.000Z",
            "durationMs": 100,
            "llmCalls": 1,
            "inputTokens": 10,
            "outputTokens": 5,
            "toolCalls": 0,
            "toolErrors": 0,
            "transfers": 0,
            "delegations": 0,
            "toolIds": [],
            "usage": usage,
            "apiKeyId": "key-1",
            "endUserId": None,
            "traceId": "a" * 32,
            "spanId": "b" * 16,
        }
    }


@pytest.mark.usefixtures("project")
async def test_unknown_query_and_project_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{BASE}/nope")).status_code == 404
    assert (await client.get(f"{BASE}/nope/trace")).status_code == 404
    assert (await client.get("/tenants/t1/crud/projects/other/query-logs")).status_code == 404


@pytest.mark.usefixtures("project")
async def test_trace_groups_tool_calls_under_their_step(client: httpx.AsyncClient, store: Store) -> None:
    record = make_record(
        "q1",
        T0,
        steps=[
            {"kind": "llm_generation", "input_tokens": 7, "output_tokens": 3},
            {"kind": "tool_call_group", "model": None, "status": "error"},
            {"kind": "transfer", "model": None, "target_agent_id": "billing"},
        ],
        calls=[
            {"tool_id": "crm", "step_id": "q1-s2", "arguments": {"id": 7}, "result_preview": "found"},
            {
                "tool_id": "crm",
                "step_id": "q1-s2",
                "tool_name": "update",
                "success": False,
                "error_type": "tool_error",
                "error_message": "Error: read-only",
                "permission_mode": "require_approval",
                "approval": "approved",
            },
        ],
    )
    await insert_records(store, [record])
    body = (await client.get(f"{BASE}/q1/trace")).json()["data"]
    assert body["query"]["id"] == "q1"
    assert [(s["seq"], s["kind"], s["status"]) for s in body["steps"]] == [
        (1, "llm_generation", "success"),
        (2, "tool_call_group", "error"),
        (3, "transfer", "success"),
    ]
    assert body["steps"][0] == {
        "id": "q1-s1",
        "seq": 1,
        "kind": "llm_generation",
        "agentId": "router",
        "targetAgentId": None,
        "model": "m",
        "name": None,
        "startedAt": "2026-01-01T00:00:00.001Z",
        "durationMs": 1,
        "status": "success",
        "errorMessage": None,
        "inputTokens": 7,
        "outputTokens": 3,
    }
    (group,) = body["toolCallGroups"]
    assert (group["stepId"], group["agentId"], group["startedAt"]) == ("q1-s2", "router", "2026-01-01T00:00:00.002Z")
    assert group["toolCalls"][1] == {
        "id": "q1-c2",
        "callId": "call_2",
        "toolId": "crm",
        "toolServerName": "crm server",
        "toolName": "update",
        "permissionMode": "require_approval",
        "approval": "approved",
        "startedAt": "2026-01-01T00:00:00.002Z",
        "latencyMs": 10,
        "success": False,
        "errorType": "tool_error",
        "errorMessage": "Error: read-only",
        "resultPreview": "ok",
    }
    with_arguments = (await client.get(f"{BASE}/q1/trace", params={"includeArguments": "true"})).json()["data"]
    assert [c["arguments"] for c in with_arguments["toolCallGroups"][0]["toolCalls"]] == [{"id": 7}, None]
    bad = await client.get(f"{BASE}/q1/trace", params={"includeArguments": "maybe"})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["query.includeArguments"]


async def test_routes_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    prefix = "/tenants/{tenantId}/crud/projects/{projectId}"
    for path in ("/query-logs", "/query-logs/{queryId}", "/query-logs/{queryId}/trace", "/tools/status-summary"):
        assert "get" in paths[prefix + path], path
    names = {p["name"] for p in paths[prefix + "/query-logs"]["get"]["parameters"]}
    assert {"graphId", "agentId", "toolId", "toolName", "status", "from", "to", "search", "limit", "cursor"} <= names
