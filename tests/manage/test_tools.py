"""Tools: MCP server records, config validation, status filter and the status route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

HTTP_CONFIG = {"type": "mcp", "mcp": {"server": {"url": "http://127.0.0.1:9/mcp"}}}


async def _tool(client: httpx.AsyncClient, project: str, tool_id: str, **fields: Any) -> httpx.Response:
    return await client.post(f"{project}/tools", json={"id": tool_id, "name": tool_id, "config": HTTP_CONFIG, **fields})


async def test_new_tool_has_status_unknown_and_its_scope(client: httpx.AsyncClient, project: str) -> None:
    response = await _tool(client, project, "t")
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["status"], data["tenantId"], data["projectId"]) == ("unknown", "t1", "p1")
    assert data["config"] == HTTP_CONFIG
    assert data["availableTools"] is None


async def test_create_without_id_generates_one(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post(f"{project}/tools", json={"name": "T", "config": HTTP_CONFIG})
    assert response.status_code == 201
    assert response.json()["data"]["id"]


@pytest.mark.parametrize(
    "mcp",
    [
        {"server": {"command": "python", "args": ["-m", "server"]}, "transport": {"type": "stdio"}},
        {"server": {"url": "https://mcp.test/sse"}, "transport": {"type": "sse"}},
        {"server": {"url": "https://mcp.test/mcp"}, "transport": {"type": "streamable_http"}, "activeTools": ["a"]},
    ],
    ids=["stdio", "sse", "streamable_http"],
)
async def test_valid_configs_are_accepted(client: httpx.AsyncClient, project: str, mcp: dict[str, Any]) -> None:
    response = await client.post(f"{project}/tools", json={"id": "t", "name": "T", "config": {"mcp": mcp}})
    assert response.status_code == 201, response.text
    assert response.json()["data"]["config"]["mcp"] == mcp


@pytest.mark.parametrize(
    ("mcp", "message"),
    [
        ({"server": {"url": "https://x.test"}, "transport": {"type": "stdio"}}, "stdio transport needs server.command"),
        ({"server": {"command": "python"}}, "streamable_http transport needs server.url"),
        ({"server": {"command": "python"}, "transport": {"type": "sse"}}, "sse transport needs server.url"),
        ({"server": {"url": "ftp://mcp.test"}}, "http(s) URL"),
        ({"server": {"url": "https://mcp.test"}, "transport": {"type": "websocket"}}, "transport.type"),
        ({"server": {"url": "https://mcp.test", "port": 1}}, "mcp.server.port"),
    ],
    ids=["stdio-without-command", "http-without-url", "sse-without-url", "ftp-url", "unknown-transport", "extra-key"],
)
async def test_invalid_configs_are_400(
    client: httpx.AsyncClient, project: str, mcp: dict[str, Any], message: str
) -> None:
    response = await client.post(f"{project}/tools", json={"id": "t", "name": "T", "config": {"mcp": mcp}})
    assert response.status_code == 400
    assert message in response.text
    assert all(e["field"].startswith("config") for e in response.json()["errors"])


async def test_update_with_invalid_config_is_400_and_keeps_the_old(client: httpx.AsyncClient, project: str) -> None:
    await _tool(client, project, "t")
    bad = {"mcp": {"server": {"url": "https://x.test"}, "transport": {"type": "stdio"}}}
    response = await client.put(f"{project}/tools/t", json={"config": bad})
    assert response.status_code == 400
    assert (await client.get(f"{project}/tools/t")).json()["data"]["config"] == HTTP_CONFIG


async def test_patch_status_sets_it(client: httpx.AsyncClient, project: str) -> None:
    await _tool(client, project, "t")
    response = await client.patch(f"{project}/tools/t/status", json={"status": "disabled"})
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "disabled"
    assert (await client.get(f"{project}/tools/t")).json()["data"]["status"] == "disabled"


async def test_patch_status_of_unknown_tool_is_404(client: httpx.AsyncClient, project: str) -> None:
    response = await client.patch(f"{project}/tools/nope/status", json={"status": "disabled"})
    assert response.status_code == 404
    assert "Tool 'nope'" in response.json()["detail"]


async def test_patch_unknown_status_is_400(client: httpx.AsyncClient, project: str) -> None:
    await _tool(client, project, "t")
    response = await client.patch(f"{project}/tools/t/status", json={"status": "sleepy"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["status"]


async def test_status_cannot_be_set_through_put(client: httpx.AsyncClient, project: str) -> None:
    await _tool(client, project, "t")
    response = await client.put(f"{project}/tools/t", json={"status": "healthy"})
    assert response.status_code == 400


async def test_list_filters_by_status(client: httpx.AsyncClient, project: str) -> None:
    for tool_id in ("t1", "t2", "t3"):
        await _tool(client, project, tool_id)
    await client.patch(f"{project}/tools/t2/status", json={"status": "disabled"})
    disabled = (await client.get(f"{project}/tools?status=disabled")).json()
    assert [t["id"] for t in disabled["data"]] == ["t2"]
    assert disabled["pagination"]["total"] == 1
    unknown = (await client.get(f"{project}/tools?status=unknown")).json()
    assert [t["id"] for t in unknown["data"]] == ["t1", "t3"]


async def test_unknown_status_filter_is_400(client: httpx.AsyncClient, project: str) -> None:
    response = await client.get(f"{project}/tools?status=sleepy")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["query.status"]


async def test_credential_reference_must_exist(client: httpx.AsyncClient, project: str) -> None:
    response = await _tool(client, project, "t", credentialReferenceId="ghost")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["credentialReferenceId"]


async def test_used_credential_cannot_be_deleted(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/credentials", json={"id": "c", "type": "env", "credentialStoreId": "env"})
    assert (await _tool(client, project, "t", credentialReferenceId="c")).status_code == 201
    assert (await client.delete(f"{project}/credentials/c")).status_code == 409
    assert (await client.delete(f"{project}/tools/t")).status_code == 204
    assert (await client.delete(f"{project}/credentials/c")).status_code == 204
