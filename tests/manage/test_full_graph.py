"""The full-graph document API, `push_graph_file` and the example graphs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from inkeep_runtime.errors import GraphDefinitionError
from inkeep_runtime.manage.full_graph import read_graph
from inkeep_runtime.manage.graph_files import push_graph_file
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope

GRAPH_FILES = sorted((Path(__file__).parents[2] / "graphs").glob("*.json"))

_MCP = {
    "type": "mcp",
    "mcp": {
        "server": {"url": "http://127.0.0.1:3011/mcp"},
        "transport": {"type": "streamable_http"},
        "activeTools": ["echo", "add"],
    },
}

RICH: dict[str, Any] = {
    "id": "support",
    "name": "Support",
    "description": "Everything a document can hold.",
    "defaultAgentId": "router",
    "modelSettings": {
        "model": "openai/gpt-4o-mini",
        "providerOptions": {"temperature": 0.2},
        "structuredOutput": "openai/gpt-4o",
        "summarizer": "openai/gpt-4o-mini",
    },
    "statusUpdates": {
        "enabled": True,
        "numEvents": 3,
        "timeInSeconds": 10,
        "prompt": "Summarise progress.",
        "statusComponents": [{"id": "progress", "name": "Progress", "schema": {"type": "object"}}],
    },
    "stopWhen": {"transferCountIs": 5, "stepCountIs": 20},
    "agents": {
        "router": {
            "id": "router",
            "type": "internal",
            "name": "Router",
            "description": "Routes",
            "instructions": "Route.",
            "canTransferTo": ["billing", "partner"],
            "canDelegateTo": ["billing"],
            "tools": ["mcp-tools"],
            "selectedTools": {"mcp-tools": ["echo"]},
            "dataComponents": ["orders-list"],
            "artifactComponents": ["profile-card"],
            "modelSettings": {"model": "openai/gpt-4o"},
            "conversationHistoryConfig": {"mode": "scoped", "limit": 20},
            "stopWhen": {"stepCountIs": 7},
        },
        "billing": {"name": "Billing", "instructions": "Bill.", "canTransferTo": ["router"]},
        "partner": {
            "id": "partner",
            "type": "external",
            "name": "Partner",
            "description": "A2A peer",
            "baseUrl": "https://partner.example.com/a2a",
            "credentialReferenceId": "partner-key",
            "headers": {"X-Team": "support"},
        },
    },
    "tools": {
        "mcp-tools": {
            "name": "MCP tools",
            "config": _MCP,
            "credentialReferenceId": "mcp-key",
            "headers": {"X-Env": "test"},
            "imageUrl": "https://example.com/i.png",
            "capabilities": {"tools": True},
            "metadata": {"owner": "ops"},
        },
    },
    "credentialReferences": [
        {"id": "mcp-key", "type": "env", "credentialStoreId": "env", "retrievalParams": {"key": "MCP_KEY"}},
        {"id": "partner-key", "type": "env", "credentialStoreId": "env", "retrievalParams": {"key": "PARTNER_KEY"}},
        {"id": "user-api", "type": "memory", "credentialStoreId": "memory"},
    ],
    "dataComponents": {
        "orders-list": {
            "id": "orders-list",
            "name": "OrdersList",
            "description": "Orders",
            "props": {"type": "object", "properties": {"orders": {"type": "array"}}},
        },
    },
    "artifactComponents": {
        "profile-card": {
            "id": "profile-card",
            "name": "ProfileCard",
            "description": "Profile",
            "summaryProps": {"type": "object"},
            "fullProps": {"type": "object", "required": ["user"]},
        },
    },
    "contextConfig": {
        "id": "user-context",
        "name": "User context",
        "description": "Who is asking",
        "requestContextSchema": {"type": "object", "properties": {"userId": {"type": "string"}}},
        "contextVariables": {
            "profile": {
                "id": "profile",
                "name": "Profile",
                "trigger": "initialization",
                "fetchConfig": {"url": "https://api.example.com/users/{{requestContext.userId}}"},
                "credentialReferenceId": "user-api",
                "defaultValue": {"name": "Anonymous"},
            },
        },
    },
}


def rich() -> dict[str, Any]:
    """A fresh copy of the rich document."""
    return copy.deepcopy(RICH)


def assert_contains(actual: Any, expected: Any, where: str = "") -> None:
    """Every field of `expected` is in `actual` with the same value (lists compare element-wise, in order)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        for key, value in expected.items():
            assert key in actual, f"{where}/{key} missing"
            assert_contains(actual[key], value, f"{where}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(expected), where
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_contains(got, want, f"{where}/{index}")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def pointers(response: httpx.Response) -> list[str]:
    """The JSON pointers of a 400 problem."""
    assert response.status_code == 400, response.text
    return [error["pointer"] for error in response.json()["errors"]]


async def post(client: httpx.AsyncClient, project: str, document: dict[str, Any]) -> dict[str, Any]:
    """Create a graph; return its document."""
    response = await client.post(f"{project}/graph", json=document)
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


async def test_post_then_get_returns_every_field_sent(client: httpx.AsyncClient, project: str) -> None:
    await post(client, project, rich())
    fetched = await client.get(f"{project}/graph/support")
    assert fetched.status_code == 200
    document = fetched.json()["data"]
    expected = rich()
    expected["agents"]["billing"]["id"] = "billing"
    expected["tools"]["mcp-tools"]["id"] = "mcp-tools"
    expected["contextConfigId"] = "user-context"
    assert_contains(document, expected)
    assert document["agents"]["billing"]["type"] == "internal"
    assert document["tools"]["mcp-tools"]["status"] == "unknown"


async def test_post_returns_the_stored_document(client: httpx.AsyncClient, project: str) -> None:
    created = await post(client, project, rich())
    fetched = await client.get(f"{project}/graph/support")
    assert created == fetched.json()["data"]


async def test_agent_graphs_full_route_returns_the_same_document(client: httpx.AsyncClient, project: str) -> None:
    await post(client, project, rich())
    full = await client.get(f"{project}/agent-graphs/support/full")
    assert full.status_code == 200
    assert full.json() == (await client.get(f"{project}/graph/support")).json()


async def test_get_then_put_changes_nothing(client: httpx.AsyncClient, project: str) -> None:
    before = await post(client, project, rich())
    response = await client.put(f"{project}/graph/support", json=before)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == before


async def test_post_of_an_existing_graph_is_409(client: httpx.AsyncClient, project: str) -> None:
    await post(client, project, rich())
    again = await client.post(f"{project}/graph", json=rich())
    assert again.status_code == 409
    assert "'support' already exists" in again.json()["detail"]


async def test_put_creates_with_201_then_updates_with_200(client: httpx.AsyncClient, project: str) -> None:
    created = await client.put(f"{project}/graph/support", json=rich())
    assert created.status_code == 201, created.text
    document = rich()
    document["name"] = "Support v2"
    updated = await client.put(f"{project}/graph/support", json=document)
    assert updated.status_code == 200
    assert updated.json()["data"]["name"] == "Support v2"


async def test_put_deletes_agents_the_document_no_longer_names(client: httpx.AsyncClient, project: str) -> None:
    await post(client, project, rich())
    document = rich()
    del document["agents"]["billing"]
    document["agents"]["router"]["canTransferTo"] = ["partner"]
    document["agents"]["router"]["canDelegateTo"] = []
    response = await client.put(f"{project}/graph/support", json=document)
    assert response.status_code == 200, response.text
    assert set(response.json()["data"]["agents"]) == {"router", "partner"}
    assert (await client.get(f"{project}/agents/billing")).status_code == 404
    relations = (await client.get(f"{project}/agent-relations", params={"graphId": "support"})).json()["data"]
    assert [(r["sourceAgentId"], r["externalAgentId"]) for r in relations] == [("router", "partner")]


async def test_put_keeps_the_document_order_of_lists(client: httpx.AsyncClient, project: str) -> None:
    await post(client, project, rich())
    document = rich()
    document["agents"]["router"]["canTransferTo"] = ["partner", "billing"]
    response = await client.put(f"{project}/graph/support", json=document)
    assert response.json()["data"]["agents"]["router"]["canTransferTo"] == ["partner", "billing"]


async def test_put_replaces_selected_tools(client: httpx.AsyncClient, project: str) -> None:
    await post(client, project, rich())
    document = rich()
    del document["agents"]["router"]["selectedTools"]
    response = await client.put(f"{project}/graph/support", json=document)
    assert response.json()["data"]["agents"]["router"]["selectedTools"] == {}


async def test_unknown_transfer_target_is_400_with_its_pointer(client: httpx.AsyncClient, project: str) -> None:
    document = rich()
    document["agents"]["router"]["canTransferTo"] = ["billing", "ghost"]
    response = await client.post(f"{project}/graph", json=document)
    assert pointers(response) == ["/agents/router/canTransferTo/1"]
    assert "'ghost'" in response.json()["detail"]


async def test_default_agent_must_be_an_internal_agent_of_the_document(client: httpx.AsyncClient, project: str) -> None:
    document = rich()
    document["defaultAgentId"] = "partner"
    response = await client.post(f"{project}/graph", json=document)
    assert pointers(response) == ["/defaultAgentId"]
    assert "no internal agent 'partner'" in response.json()["detail"]


async def test_key_and_id_of_an_entry_must_match(client: httpx.AsyncClient, project: str) -> None:
    document = rich()
    document["tools"]["mcp-tools"]["id"] = "other"
    response = await client.post(f"{project}/graph", json=document)
    assert pointers(response) == ["/tools/mcp-tools/id"]


async def test_selected_tools_must_name_a_tool_of_the_agent(client: httpx.AsyncClient, project: str) -> None:
    document = rich()
    document["agents"]["router"]["selectedTools"] = {"elsewhere": ["echo"]}
    response = await client.post(f"{project}/graph", json=document)
    assert pointers(response) == ["/agents/router/selectedTools/elsewhere"]


async def test_a_tool_listed_twice_is_400(client: httpx.AsyncClient, project: str) -> None:
    document = rich()
    document["agents"]["router"]["tools"] = ["mcp-tools", "mcp-tools"]
    response = await client.post(f"{project}/graph", json=document)
    assert pointers(response) == ["/agents/router/tools/1"]


async def test_shape_errors_point_into_the_agent_without_union_tags(client: httpx.AsyncClient, project: str) -> None:
    document = rich()
    del document["agents"]["billing"]["instructions"]
    del document["agents"]["partner"]["baseUrl"]
    response = await client.post(f"{project}/graph", json=document)
    assert sorted(pointers(response)) == ["/agents/billing/instructions", "/agents/partner/baseUrl"]


async def test_put_with_a_different_body_id_is_400(client: httpx.AsyncClient, project: str) -> None:
    response = await client.put(f"{project}/graph/other", json=rich())
    assert pointers(response) == ["/id"]


async def test_tool_reference_may_name_a_tool_already_in_the_project(client: httpx.AsyncClient, project: str) -> None:
    document = {
        "id": "g",
        "name": "G",
        "defaultAgentId": "a",
        "agents": {"a": {"name": "A", "instructions": "x", "tools": ["shared"]}},
    }
    missing = await client.post(f"{project}/graph", json=document)
    assert pointers(missing) == ["/agents/a/tools/0"]
    assert "neither defined in the document nor exists in project 'p1'" in missing.json()["detail"]
    tool = {"id": "shared", "name": "Shared", "config": _MCP}
    assert (await client.post(f"{project}/tools", json=tool)).status_code == 201
    created = await post(client, project, document)
    assert list(created["tools"]) == ["shared"]


async def test_missing_credential_of_an_external_agent_is_400(client: httpx.AsyncClient, project: str) -> None:
    document = rich()
    document["credentialReferences"] = [c for c in document["credentialReferences"] if c["id"] != "partner-key"]
    response = await client.post(f"{project}/graph", json=document)
    assert pointers(response) == ["/agents/partner/credentialReferenceId"]


async def test_credential_references_may_be_an_object_keyed_by_id(client: httpx.AsyncClient, project: str) -> None:
    document = rich()
    document["credentialReferences"] = {c["id"]: c for c in document["credentialReferences"]}
    del document["credentialReferences"]["mcp-key"]["id"]
    created = await post(client, project, document)
    assert sorted(c["id"] for c in created["credentialReferences"]) == ["mcp-key", "partner-key", "user-api"]


async def test_agent_owned_by_another_graph_is_409(client: httpx.AsyncClient, project: str) -> None:
    await post(client, project, rich())
    other = {
        "id": "other",
        "name": "Other",
        "defaultAgentId": "billing",
        "agents": {"billing": {"name": "B", "instructions": "x"}},
    }
    response = await client.post(f"{project}/graph", json=other)
    assert response.status_code == 409
    assert "Agent 'billing' belongs to graph 'support'" in response.json()["detail"]
    assert (await client.get(f"{project}/graph/other")).status_code == 404


async def test_failing_put_leaves_the_old_graph_intact(client: httpx.AsyncClient, project: str) -> None:
    before = await post(client, project, rich())
    # Another graph uses 'billing' as its default agent, so deleting it (the last write step) must fail.
    other = {"id": "other", "name": "Other", "defaultAgentId": "billing"}
    assert (await client.post(f"{project}/agent-graphs", json=other)).status_code == 201
    document = rich()
    document["name"] = "Renamed"
    document["tools"]["mcp-tools"]["name"] = "Renamed tool"
    document["agents"]["router"]["instructions"] = "Changed."
    document["agents"]["router"]["canTransferTo"] = ["partner"]
    document["agents"]["router"]["canDelegateTo"] = []
    del document["agents"]["billing"]
    response = await client.put(f"{project}/graph/support", json=document)
    assert response.status_code == 409, response.text
    assert (await client.get(f"{project}/graph/support")).json()["data"] == before
    assert (await client.get(f"{project}/tools/mcp-tools")).json()["data"]["name"] == "MCP tools"


async def test_delete_removes_graph_agents_relations_and_keys_but_not_tools(
    client: httpx.AsyncClient, project: str
) -> None:
    await post(client, project, rich())
    assert (await client.post(f"{project}/api-keys", json={"graphId": "support"})).status_code == 201
    response = await client.delete(f"{project}/graph/support")
    assert response.status_code == 204
    assert (await client.get(f"{project}/graph/support")).status_code == 404
    for path in ("agents", "external-agents", "agent-relations", "api-keys"):
        assert (await client.get(f"{project}/{path}")).json()["data"] == [], path
    kept = ("tools/mcp-tools", "credentials/mcp-key", "data-components/orders-list", "context-configs/user-context")
    for path in kept:
        assert (await client.get(f"{project}/{path}")).status_code == 200, path


async def test_unknown_graph_is_404(client: httpx.AsyncClient, project: str) -> None:
    assert (await client.get(f"{project}/graph/nope")).status_code == 404
    assert (await client.delete(f"{project}/graph/nope")).status_code == 404


async def test_graph_in_unknown_project_is_404(client: httpx.AsyncClient) -> None:
    response = await client.put("/tenants/t1/crud/projects/missing/graph/support", json=rich())
    assert response.status_code == 404
    assert "Project 'missing'" in response.json()["detail"]


async def test_openapi_documents_the_full_graph_routes(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    base = "/tenants/{tenantId}/crud/projects/{projectId}"
    assert set(document["paths"][f"{base}/graph/{{graphId}}"]) == {"get", "put", "delete"}
    assert "requestBody" in document["paths"][f"{base}/graph"]["post"]
    assert "get" in document["paths"][f"{base}/agent-graphs/{{graphId}}/full"]
    assert "canTransferTo" in document["components"]["schemas"]["FullGraphAgent"]["properties"]


@pytest.mark.parametrize("file", GRAPH_FILES, ids=lambda file: file.stem)
async def test_example_graph_pushes_and_round_trips(store: Store, file: Path) -> None:
    scope = Scope("default", "default")
    summary = await push_graph_file(store, scope, file)
    expected = json.loads(await anyio.Path(file).read_text())
    assert summary.startswith(f"Created graph '{expected['id']}'")
    async with store.read() as session:
        document = await read_graph(Rows(session), scope, expected["id"])
    assert_contains(document, expected)


async def test_push_twice_is_unchanged(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "support.json"
    file.write_text(json.dumps(rich()))
    scope = Scope("t1", "p1")
    assert await push_graph_file(store, scope, file) == "Created graph 'support' (3 agents, 1 tool) in t1/p1."
    async with store.read() as session:
        first = await read_graph(Rows(session), scope, "support")
    assert await push_graph_file(store, scope, file) == "Unchanged graph 'support' (3 agents, 1 tool) in t1/p1."
    async with store.read() as session:
        assert await read_graph(Rows(session), scope, "support") == first


async def test_push_of_a_changed_file_says_updated(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "support.json"
    file.write_text(json.dumps(rich()))
    await push_graph_file(store, Scope("t1", "p1"), file)
    document = rich()
    document["agents"]["billing"]["instructions"] = "Bill politely."
    file.write_text(json.dumps(document))
    assert (await push_graph_file(store, Scope("t1", "p1"), file)).startswith("Updated graph 'support'")


async def test_push_creates_the_missing_project(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "support.json"
    file.write_text(json.dumps(rich()))
    await push_graph_file(store, Scope("t9", "fresh"), file)
    async with store.read() as session:
        project = await Rows(session).get("projects", Scope("t9"), "fresh")
    assert project is not None
    assert project["name"] == "fresh"


async def test_push_of_an_inconsistent_file_names_file_and_pointer(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    document = rich()
    document["agents"]["router"]["canDelegateTo"] = ["ghost"]
    file.write_text(json.dumps(document))
    with pytest.raises(GraphDefinitionError) as caught:
        await push_graph_file(store, Scope("t1", "p1"), file)
    assert str(file) in caught.value.detail
    assert "/agents/router/canDelegateTo/0" in caught.value.detail
    async with store.read() as session:
        assert await Rows(session).get("projects", Scope("t1"), "p1") is None


async def test_push_of_invalid_json_names_file_and_line(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    file.write_text('{"id": "x",\n  "name": }')
    with pytest.raises(GraphDefinitionError) as caught:
        await push_graph_file(store, Scope("t1", "p1"), file)
    assert str(file) in caught.value.detail
    assert "line 2" in caught.value.detail
