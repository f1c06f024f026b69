"""Tool health checks, tool-list sync and the cached tool list, against real MCP servers on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, cast

import anyio
import httpx
import pytest

from inkeep_runtime import Settings
from inkeep_runtime.http.endpoint import Call
from inkeep_runtime.manage.tool_health import _discover, _reason, _redact
from inkeep_runtime.mcp import McpNeedsAuth, McpServerSpec
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope
from tests.fakes_mcp import fake_mcp as fakes
from tests.fakes_mcp.fake_mcp import FAKE_MCP_TOKEN, FakeMcpServer

# The shared fixtures, until tests/conftest.py registers tests.fakes_mcp.fake_mcp as a plugin.
fake_mcp = fakes.fake_mcp
fake_mcp_auth = fakes.fake_mcp_auth
fake_mcp_sse = fakes.fake_mcp_sse

FAKE_TOOLS = ["echo", "add", "slow", "fail", "reject", "headers"]


@pytest.fixture
def settings() -> Settings:
    """A default tool timeout short enough that a hanging probe cannot outlive the test."""
    return Settings.from_env({}, database_url="sqlite+aiosqlite:///:memory:", tool_timeout_s=5.0)


def mcp_config(url: str, *, transport: str = "streamable_http", timeout_ms: int | None = None) -> dict[str, Any]:
    server: dict[str, Any] = {"url": url}
    if timeout_ms is not None:
        server["timeout"] = timeout_ms
    return {"type": "mcp", "mcp": {"server": server, "transport": {"type": transport}}}


async def add_tool(
    client: httpx.AsyncClient, project: str, tool_id: str, config: dict[str, Any], **fields: Any
) -> None:
    response = await client.post(f"{project}/tools", json={"id": tool_id, "name": tool_id, "config": config, **fields})
    assert response.status_code == 201, response.text


async def stored(client: httpx.AsyncClient, project: str, tool_id: str) -> dict[str, Any]:
    response = await client.get(f"{project}/tools/{tool_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def dead_url() -> str:
    """An MCP URL on a loopback port with nothing listening (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mcp"


@contextmanager
def silent_server() -> Iterator[str]:
    """An MCP URL whose TCP connections are accepted by the kernel but never answered.

    Leaving the block closes the listener, which resets the pending connections, so the pool's
    background handshake ends at once instead of at its connect timeout.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"


def names(tools: list[dict[str, Any]] | None) -> list[str]:
    return [tool["name"] for tool in tools or []]


# --- POST .../tools/{id}/health-check ---------------------------------------------------------------------------


async def test_reachable_server_is_healthy_and_its_tools_are_cached(
    client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp.url))
    response = await client.post(f"{project}/tools/t/health-check")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["healthCheck"] == {"status": "healthy", "error": None}
    tool = data["tool"]
    assert (tool["status"], tool["lastError"]) == ("healthy", None)
    assert names(tool["availableTools"]) == FAKE_TOOLS
    assert tool["availableTools"][0] == {
        "name": "echo",
        "description": "Return the text unchanged.",
        "inputSchema": {
            "properties": {"text": {"title": "Text", "type": "string"}},
            "required": ["text"],
            "title": "echoArguments",
            "type": "object",
        },
    }
    assert tool["lastHealthCheck"] is not None
    assert tool["lastToolsSync"] == tool["lastHealthCheck"]
    assert await stored(client, project, "t") == tool


async def test_sse_server_is_healthy(client: httpx.AsyncClient, project: str, fake_mcp_sse: FakeMcpServer) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp_sse.url, transport="sse"))
    response = await client.post(f"{project}/tools/t/health-check")
    assert response.json()["data"]["healthCheck"]["status"] == "healthy"
    assert names(response.json()["data"]["tool"]["availableTools"]) == FAKE_TOOLS


async def test_unreachable_server_is_unhealthy_with_last_error(client: httpx.AsyncClient, project: str) -> None:
    url = dead_url()
    await add_tool(client, project, "t", mcp_config(url))
    started = time.monotonic()
    response = await client.post(f"{project}/tools/t/health-check")
    assert time.monotonic() - started < 3
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["healthCheck"]["status"] == "unhealthy"
    assert url in data["healthCheck"]["error"]
    tool = await stored(client, project, "t")
    assert (tool["status"], tool["lastError"]) == ("unhealthy", data["healthCheck"]["error"])
    assert tool["lastHealthCheck"] is not None
    assert (tool["availableTools"], tool["lastToolsSync"]) == (None, None)


async def test_server_that_never_answers_is_unhealthy_within_its_timeout(
    client: httpx.AsyncClient, project: str
) -> None:
    with silent_server() as url:
        await add_tool(client, project, "t", mcp_config(url, timeout_ms=300))
        started = time.monotonic()
        response = await client.post(f"{project}/tools/t/health-check")
        assert time.monotonic() - started < 2
    check = response.json()["data"]["healthCheck"]
    assert check["status"] == "unhealthy"
    assert "did not answer within 0.3 s" in check["error"]


async def test_server_wanting_a_token_needs_auth(
    client: httpx.AsyncClient, project: str, fake_mcp_auth: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp_auth.url))
    response = await client.post(f"{project}/tools/t/health-check")
    check = response.json()["data"]["healthCheck"]
    assert check["status"] == "needs_auth"
    assert "requires authentication" in check["error"]
    assert (await stored(client, project, "t"))["status"] == "needs_auth"


async def test_bearer_header_on_the_record_makes_it_healthy(
    client: httpx.AsyncClient, project: str, fake_mcp_auth: FakeMcpServer
) -> None:
    headers = {"Authorization": f"Bearer {FAKE_MCP_TOKEN}"}
    await add_tool(client, project, "t", mcp_config(fake_mcp_auth.url), headers=headers)
    response = await client.post(f"{project}/tools/t/health-check")
    assert response.json()["data"]["healthCheck"] == {"status": "healthy", "error": None}
    assert names(response.json()["data"]["tool"]["availableTools"]) == FAKE_TOOLS


async def test_wrong_token_needs_auth_and_stays_out_of_last_error(
    client: httpx.AsyncClient, project: str, fake_mcp_auth: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp_auth.url), headers={"Authorization": "Bearer w0ng-t0ken"})
    check = (await client.post(f"{project}/tools/t/health-check")).json()["data"]["healthCheck"]
    assert check["status"] == "needs_auth"
    assert "w0ng-t0ken" not in check["error"]


async def test_recovered_server_clears_last_error(
    client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(dead_url()))
    await client.post(f"{project}/tools/t/health-check")
    await client.put(f"{project}/tools/t", json={"config": mcp_config(fake_mcp.url)})
    tool = (await client.post(f"{project}/tools/t/health-check")).json()["data"]["tool"]
    assert (tool["status"], tool["lastError"]) == ("healthy", None)


async def test_disabled_tool_is_not_probed(client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp.url))
    await client.patch(f"{project}/tools/t/status", json={"status": "disabled"})
    response = await client.post(f"{project}/tools/t/health-check")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["healthCheck"] == {"status": "disabled", "error": None}
    assert (data["tool"]["status"], data["tool"]["lastHealthCheck"]) == ("disabled", None)
    assert fake_mcp.recorder.requests == []


async def test_tool_disabled_during_a_probe_stays_disabled(client: httpx.AsyncClient, project: str) -> None:
    with silent_server() as url:
        await add_tool(client, project, "t", mcp_config(url, timeout_ms=500))
        responses: list[httpx.Response] = []

        async def check() -> None:
            responses.append(await client.post(f"{project}/tools/t/health-check"))

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(check)
            await anyio.sleep(0.2)
            await client.patch(f"{project}/tools/t/status", json={"status": "disabled"})
    tool = responses[0].json()["data"]["tool"]
    assert (tool["status"], tool["lastHealthCheck"], tool["lastError"]) == ("disabled", None, None)


# --- POST .../tools/health-check-all ----------------------------------------------------------------------------


async def test_health_check_all_settles_every_tool_in_order(
    client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer, fake_mcp_auth: FakeMcpServer
) -> None:
    await add_tool(client, project, "up", mcp_config(fake_mcp.url))
    await add_tool(client, project, "down", mcp_config(dead_url()))
    await add_tool(client, project, "locked", mcp_config(fake_mcp_auth.url))
    await add_tool(client, project, "off", mcp_config(fake_mcp.url))
    await client.patch(f"{project}/tools/off/status", json={"status": "disabled"})
    response = await client.post(f"{project}/tools/health-check-all")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["total"], data["successful"], data["failed"]) == (4, 4, 0)
    results = data["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [(r["status"], r["error"]) for r in results] == [("fulfilled", None)] * 4
    assert [r["data"]["tool"]["id"] for r in results] == ["up", "down", "locked", "off"]
    assert [r["data"]["healthCheck"]["status"] for r in results] == ["healthy", "unhealthy", "needs_auth", "disabled"]
    assert [(await stored(client, project, t))["status"] for t in ("up", "down", "locked", "off")] == [
        "healthy",
        "unhealthy",
        "needs_auth",
        "disabled",
    ]


async def test_health_check_all_probes_concurrently(client: httpx.AsyncClient, project: str) -> None:
    with silent_server() as url:
        for index in range(3):
            await add_tool(client, project, f"t{index}", mcp_config(url, timeout_ms=700))
        started = time.monotonic()
        response = await client.post(f"{project}/tools/health-check-all")
        elapsed = time.monotonic() - started
    assert elapsed < 1.8  # three 0.7 s timeouts in parallel, not in series
    statuses = [r["data"]["healthCheck"]["status"] for r in response.json()["data"]["results"]]
    assert statuses == ["unhealthy"] * 3


async def test_health_check_all_rejects_a_tool_deleted_mid_check(client: httpx.AsyncClient, project: str) -> None:
    with silent_server() as url:
        await add_tool(client, project, "gone", mcp_config(url, timeout_ms=500))
        responses: list[httpx.Response] = []

        async def check_all() -> None:
            responses.append(await client.post(f"{project}/tools/health-check-all"))

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(check_all)
            await anyio.sleep(0.2)
            assert (await client.delete(f"{project}/tools/gone")).status_code == 204
    data = responses[0].json()["data"]
    assert (data["total"], data["successful"], data["failed"]) == (1, 0, 1)
    assert data["results"] == [
        {"index": 0, "status": "rejected", "data": None, "error": "Tool 'gone' does not exist in project 'p1'."}
    ]


async def test_health_check_all_of_a_project_without_tools(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post(f"{project}/tools/health-check-all")
    assert response.json() == {"data": {"total": 0, "successful": 0, "failed": 0, "results": []}}


async def test_health_check_all_of_an_unknown_project_is_404(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post("/tenants/t1/crud/projects/nope/tools/health-check-all")
    assert response.status_code == 404
    assert "Project 'nope'" in response.json()["detail"]


async def test_get_on_health_check_all_is_a_tool_lookup(client: httpx.AsyncClient, project: str) -> None:
    response = await client.get(f"{project}/tools/health-check-all")
    assert response.status_code == 404
    assert "Tool 'health-check-all' does not exist" in response.json()["detail"]


async def test_unusable_stored_config_is_unhealthy(client: httpx.AsyncClient, project: str, store: Store) -> None:
    await add_tool(client, project, "t", mcp_config(dead_url()))
    async with store.write("t1/p1") as session:  # a record written before validation existed
        await Rows(session).update("tools", Scope("t1", "p1"), "t", {"config": {"mcp": {"server": {}}}}, label="Tool")
    check = (await client.post(f"{project}/tools/t/health-check")).json()["data"]["healthCheck"]
    assert check == {
        "status": "unhealthy",
        "error": "A streamable_http MCP server needs config.mcp.server.url (an http or https URL), not None.",
    }
    response = await client.post(f"{project}/tools/t/sync")
    assert (response.status_code, response.json()["code"]) == (502, "mcp_config_invalid")


# --- POST .../tools/{id}/sync -----------------------------------------------------------------------------------


async def test_sync_refreshes_the_cached_tool_list(
    client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp.url))
    first = (await client.post(f"{project}/tools/t/sync")).json()["data"]
    await anyio.sleep(0.01)
    response = await client.post(f"{project}/tools/t/sync")
    assert response.status_code == 200, response.text
    second = response.json()["data"]
    assert names(first["availableTools"]) == names(second["availableTools"]) == FAKE_TOOLS
    assert first["lastToolsSync"] < second["lastToolsSync"]
    assert (second["status"], second["lastError"]) == ("healthy", None)
    assert await stored(client, project, "t") == second


async def test_failed_sync_is_502_and_stores_unhealthy(
    client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp.url))
    synced = (await client.post(f"{project}/tools/t/sync")).json()["data"]
    await client.put(f"{project}/tools/t", json={"config": mcp_config(dead_url())})
    response = await client.post(f"{project}/tools/t/sync")
    assert response.status_code == 502
    assert response.json()["code"] == "mcp_unavailable"
    tool = await stored(client, project, "t")
    assert (tool["status"], tool["lastError"]) == ("unhealthy", response.json()["detail"])
    assert (tool["availableTools"], tool["lastToolsSync"]) == ([], synced["lastToolsSync"])


async def test_sync_needing_auth_is_502_and_stores_needs_auth(
    client: httpx.AsyncClient, project: str, fake_mcp_auth: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp_auth.url))
    response = await client.post(f"{project}/tools/t/sync")
    assert response.status_code == 502
    problem = response.json()
    assert problem["code"] == "mcp_needs_auth"
    assert problem["www_authenticate"].startswith("Bearer resource_metadata=")
    assert (await stored(client, project, "t"))["status"] == "needs_auth"


async def test_sync_timeout_is_504(client: httpx.AsyncClient, project: str) -> None:
    with silent_server() as url:
        await add_tool(client, project, "t", mcp_config(url, timeout_ms=300))
        response = await client.post(f"{project}/tools/t/sync")
    assert response.status_code == 504
    assert response.json()["code"] == "tool_timeout"
    assert (await stored(client, project, "t"))["status"] == "unhealthy"


async def test_sync_of_a_disabled_tool_is_409(client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp.url))
    await client.patch(f"{project}/tools/t/status", json={"status": "disabled"})
    response = await client.post(f"{project}/tools/t/sync")
    assert response.status_code == 409
    assert fake_mcp.recorder.requests == []


# --- GET .../tools/{id}/available-tools -------------------------------------------------------------------------


async def test_available_tools_reads_the_cache(
    client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp.url))
    synced = (await client.post(f"{project}/tools/t/sync")).json()["data"]
    seen = len(fake_mcp.recorder.requests)
    response = await client.get(f"{project}/tools/t/available-tools")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data == {
        "availableTools": [{**tool, "addedContext": None} for tool in synced["availableTools"]],
        "lastSync": synced["lastToolsSync"],
        "status": "healthy",
    }
    assert len(fake_mcp.recorder.requests) == seen


async def test_available_tools_of_a_never_synced_tool_syncs_once(
    client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp.url))
    first = (await client.get(f"{project}/tools/t/available-tools")).json()["data"]
    assert (names(first["availableTools"]), first["status"]) == (FAKE_TOOLS, "healthy")
    assert first["lastSync"] is not None
    seen = len(fake_mcp.recorder.requests)
    assert (await client.get(f"{project}/tools/t/available-tools")).json()["data"] == first
    assert len(fake_mcp.recorder.requests) == seen


async def test_available_tools_of_an_unreachable_never_synced_tool(client: httpx.AsyncClient, project: str) -> None:
    await add_tool(client, project, "t", mcp_config(dead_url()))
    response = await client.get(f"{project}/tools/t/available-tools")
    assert response.status_code == 200
    assert response.json()["data"] == {"availableTools": [], "lastSync": None, "status": "unhealthy"}


async def test_available_tools_of_a_disabled_tool_makes_no_call(
    client: httpx.AsyncClient, project: str, fake_mcp: FakeMcpServer
) -> None:
    await add_tool(client, project, "t", mcp_config(fake_mcp.url))
    await client.patch(f"{project}/tools/t/status", json={"status": "disabled"})
    response = await client.get(f"{project}/tools/t/available-tools")
    assert response.json()["data"] == {"availableTools": [], "lastSync": None, "status": "disabled"}
    assert fake_mcp.recorder.requests == []


# --- not found --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", "health-check"), ("POST", "sync"), ("GET", "available-tools")],
)
async def test_unknown_tool_is_404(client: httpx.AsyncClient, project: str, method: str, suffix: str) -> None:
    response = await client.request(method, f"{project}/tools/nope/{suffix}")
    assert response.status_code == 404
    assert "Tool 'nope' does not exist in project 'p1'" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", "health-check"), ("POST", "sync"), ("GET", "available-tools")],
)
async def test_unknown_project_is_404(client: httpx.AsyncClient, project: str, method: str, suffix: str) -> None:
    response = await client.request(method, f"/tenants/t1/crud/projects/nope/tools/t/{suffix}")
    assert response.status_code == 404
    assert "Project 'nope'" in response.json()["detail"]


# --- secrets ----------------------------------------------------------------------------------------------------


def test_redact_masks_header_values_and_bearer_tokens() -> None:
    spec = McpServerSpec(
        transport="streamable_http",
        url="http://127.0.0.1:1/mcp",
        headers=(("Authorization", "Bearer s3cr3t-token"), ("X-Flag", "on")),
    )
    text = "server said: token s3cr3t-token is bad; header was 'Bearer s3cr3t-token'; flag on"
    assert _redact(text, spec) == "server said: token [redacted] is bad; header was '[redacted]'; flag on"
    assert _redact(None, spec) is None


async def test_secrets_echoed_by_a_server_are_masked_in_sync_errors() -> None:
    async def list_tools(spec: McpServerSpec) -> list[Any]:
        msg = f"server says {dict(spec.headers)}"
        raise McpNeedsAuth(msg, www_authenticate="Bearer")

    services = SimpleNamespace(
        settings=SimpleNamespace(tool_timeout_s=1.0), mcp=SimpleNamespace(list_tools=list_tools), credentials=None
    )
    call = Call(path={}, query=None, body=None, services=services, request=cast(Any, None))
    row = {"config": mcp_config("http://127.0.0.1:1/mcp"), "headers": {"Authorization": "Bearer s3cr3t-token"}}
    with pytest.raises(McpNeedsAuth) as caught:
        await _discover(call, row)
    assert caught.value.detail == "server says {'Authorization': '[redacted]'}"
    assert caught.value.www_authenticate == "Bearer"


def test_unexpected_rejection_names_only_the_error_type() -> None:
    assert _reason(RuntimeError("internal detail")) == "The health check failed unexpectedly (RuntimeError)."
