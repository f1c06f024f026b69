"""The permission, default-mode and added-context routes (#9, #10, #13) and their validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.permissions.helpers import CRUD, ops_graph

PERMISSIONS = f"{CRUD}/agents/ops/tool-permissions"


@pytest.fixture
async def synced(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer, client: httpx.AsyncClient
) -> None:
    """Graph `g` with agent `ops` on tool record `tools`, whose tool list is synced from the fake MCP server."""
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    response = await client.post(f"{CRUD}/tools/tools/sync")
    assert response.status_code == 200, response.text


def _modes(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {item["toolName"]: (item["mode"], item["source"]) for item in body["data"]}


async def test_every_reachable_tool_is_listed_with_the_default_mode(client: httpx.AsyncClient, synced: None) -> None:
    response = await client.get(PERMISSIONS)
    assert response.status_code == 200, response.text
    first = response.json()["data"][0]
    assert set(first) == {"toolId", "toolServerName", "toolName", "mode", "impactLevel", "source"}
    assert first["toolId"] == "tools"
    assert first["toolServerName"] == "tools server"
    modes = _modes(response.json())
    assert {"echo", "add", "slow", "fail"} <= set(modes)
    assert set(modes.values()) == {("always_execute", "default")}


async def test_a_server_never_synced_is_listed_live_for_permissions(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer, client: httpx.AsyncClient
) -> None:
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)  # no sync, no run: the tool list was never read
    listed = await client.get(PERMISSIONS)
    assert listed.status_code == 200, listed.text
    assert {"echo", "add", "slow", "fail"} <= set(_modes(listed.json()))
    wrong = await client.put(
        PERMISSIONS, json={"permissions": [{"toolId": "tools", "toolName": "nope", "mode": "disabled"}]}
    )
    assert wrong.status_code == 400, wrong.text
    assert wrong.json()["errors"][0]["pointer"] == "/permissions/0/toolName"


async def test_put_upserts_only_the_listed_tools_and_null_clears(client: httpx.AsyncClient, synced: None) -> None:
    body = {
        "permissions": [
            {"toolId": "tools", "toolName": "add", "mode": "require_approval", "impactLevel": "write"},
            {"toolId": "tools", "toolName": "fail", "mode": "disabled"},
        ]
    }
    response = await client.put(PERMISSIONS, json=body)
    assert response.status_code == 200, response.text
    modes = _modes(response.json())
    assert modes["add"] == ("require_approval", "explicit")
    assert modes["fail"] == ("disabled", "explicit")
    assert modes["echo"] == ("always_execute", "default")
    assert next(i for i in response.json()["data"] if i["toolName"] == "add")["impactLevel"] == "write"
    cleared = await client.put(
        PERMISSIONS, json={"permissions": [{"toolId": "tools", "toolName": "add", "mode": None}]}
    )
    assert _modes(cleared.json())["add"] == ("always_execute", "default")
    assert _modes(cleared.json())["fail"] == ("disabled", "explicit")  # untouched: not listed
    assert _modes((await client.get(PERMISSIONS)).json()) == _modes(cleared.json())


async def test_project_default_mode_applies_to_tools_without_a_permission(
    client: httpx.AsyncClient, synced: None
) -> None:
    assert (await client.get(f"{CRUD}/tool-permission-defaults")).json() == {"data": {"defaultMode": "always_execute"}}
    response = await client.put(f"{CRUD}/tool-permission-defaults", json={"defaultMode": "require_approval"})
    assert response.json() == {"data": {"defaultMode": "require_approval"}}
    assert set(_modes((await client.get(PERMISSIONS)).json()).values()) == {("require_approval", "default")}


@pytest.mark.parametrize(
    ("entry", "pointer"),
    [
        ({"toolId": "tools", "toolName": "add", "mode": "sometimes"}, "/permissions/0/mode"),
        ({"toolId": "tools", "toolName": "add"}, "/permissions/0/mode"),
        ({"toolId": "nope", "toolName": "add", "mode": "disabled"}, "/permissions/0/toolId"),
        ({"toolId": "tools", "toolName": "ad", "mode": "disabled"}, "/permissions/0/toolName"),
        ({"toolId": "tools", "toolName": "add", "mode": "disabled", "extra": 1}, "/permissions/0/extra"),
    ],
)
async def test_put_rejects_bad_entries_naming_the_field(
    client: httpx.AsyncClient, synced: None, entry: dict[str, Any], pointer: str
) -> None:
    response = await client.put(PERMISSIONS, json={"permissions": [entry]})
    assert response.status_code == 400, response.text
    problem = response.json()
    assert pointer in problem["detail"]
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert set(_modes((await client.get(PERMISSIONS)).json()).values()) == {("always_execute", "default")}


async def test_default_mode_must_be_a_known_mode(client: httpx.AsyncClient, synced: None) -> None:
    response = await client.put(f"{CRUD}/tool-permission-defaults", json={"defaultMode": "ask"})
    assert response.status_code == 400
    assert "/defaultMode" in response.json()["detail"]


async def test_unknown_agent_is_404(client: httpx.AsyncClient, synced: None) -> None:
    response = await client.get(f"{CRUD}/agents/ghost/tool-permissions")
    assert response.status_code == 404
    assert "ghost" in response.json()["detail"]


async def test_added_context_is_stored_and_shown_by_available_tools(client: httpx.AsyncClient, synced: None) -> None:
    path = f"{CRUD}/tools/tools/available-tools/echo"
    response = await client.patch(path, json={"addedContext": "Quote the user verbatim."})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["toolName"], data["addedContext"]) == ("echo", "Quote the user verbatim.")
    assert data["updatedAt"].endswith("Z")
    listed = (await client.get(f"{CRUD}/tools/tools/available-tools")).json()["data"]["availableTools"]
    contexts = {t["name"]: t["addedContext"] for t in listed}
    assert contexts["echo"] == "Quote the user verbatim."
    assert contexts["add"] is None
    removed = await client.patch(path, json={"addedContext": None})
    assert removed.json()["data"]["addedContext"] is None
    listed = (await client.get(f"{CRUD}/tools/tools/available-tools")).json()["data"]["availableTools"]
    assert all(t["addedContext"] is None for t in listed)


async def test_added_context_validation(client: httpx.AsyncClient, synced: None) -> None:
    too_long = await client.patch(f"{CRUD}/tools/tools/available-tools/echo", json={"addedContext": "x" * 2001})
    assert too_long.status_code == 400
    assert "/addedContext" in too_long.json()["detail"]
    unknown_name = await client.patch(f"{CRUD}/tools/tools/available-tools/nope", json={"addedContext": "x"})
    assert unknown_name.status_code == 404
    assert "nope" in unknown_name.json()["detail"]
    unknown_tool = await client.patch(f"{CRUD}/tools/ghost/available-tools/echo", json={"addedContext": "x"})
    assert unknown_tool.status_code == 404


async def test_new_routes_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    base = "/tenants/{tenantId}/crud/projects/{projectId}"
    assert {"get", "put"} <= set(paths[f"{base}/agents/{{agentId}}/tool-permissions"])
    assert {"get", "put"} <= set(paths[f"{base}/tool-permission-defaults"])
    assert "patch" in paths[f"{base}/tools/{{id}}/available-tools/{{toolName}}"]
    assert "get" in paths[f"{base}/tool-approvals"]
    assert "post" in paths["/tenants/{tenantId}/projects/{projectId}/tool-approvals/{toolCallId}"]
