"""McpPool: one session per server, shared, reconnected, cancellable; against real loopback servers.

Each test enters the pool in its own body: the pool holds a task group, and pytest-asyncio runs a
fixture's setup and teardown in different tasks, which a task group does not allow.
"""

from __future__ import annotations

import time

import anyio
import pytest

from inkeep_runtime.errors import MCPUnavailable, ToolTimeout
from inkeep_runtime.mcp import McpNeedsAuth, McpPool, McpServerSpec, McpTransportKind, ToolResult
from tests.fakes_mcp import fake_mcp as fakes
from tests.fakes_mcp.fake_mcp import FAKE_MCP_TOKEN, FakeMcpServer, serve_fake_mcp, stdio_command

# The shared fixtures, until tests/conftest.py registers tests.fakes_mcp.fake_mcp as a plugin.
fake_mcp = fakes.fake_mcp
fake_mcp_auth = fakes.fake_mcp_auth

RESTARTABLE = [("streamable_http", False), ("streamable_http", True), ("sse", False)]


def http_spec(server: FakeMcpServer, *, timeout_s: float = 10.0) -> McpServerSpec:
    return McpServerSpec(transport="streamable_http", url=server.url, timeout_s=timeout_s)


async def _cancel_later(scope: anyio.CancelScope, delay_s: float) -> None:
    await anyio.sleep(delay_s)
    scope.cancel()


async def test_many_calls_share_one_session(fake_mcp: FakeMcpServer) -> None:
    spec = http_spec(fake_mcp)
    async with McpPool() as pool:
        results = [await pool.call_tool(spec, "add", {"a": n, "b": 1}) for n in range(10)]
        tools = await pool.list_tools(spec)

    assert [result.content_text for result in results] == [str(n + 1) for n in range(10)]
    assert len(tools) == 6
    assert fake_mcp.recorder.handshakes == 1
    assert pool.sessions_opened == 1


async def test_concurrent_first_calls_open_one_session_and_all_succeed() -> None:
    results: dict[int, ToolResult] = {}
    async with serve_fake_mcp(legacy=True) as fake, McpPool() as pool:
        spec = http_spec(fake)

        async def call(n: int) -> None:
            results[n] = await pool.call_tool(spec, "echo", {"text": str(n)})

        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(call, n)

    assert {n: result.content_text for n, result in results.items()} == {n: str(n) for n in range(20)}
    assert fake.recorder.handshakes == 1


async def test_concurrent_calls_on_one_session_run_in_parallel(fake_mcp: FakeMcpServer) -> None:
    spec = http_spec(fake_mcp)
    async with McpPool() as pool:
        await pool.call_tool(spec, "echo", {"text": "warm"})
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(pool.call_tool, spec, "slow", {"seconds": 0.5})
        elapsed = time.monotonic() - started

    assert elapsed < 2
    assert fake_mcp.events.count("slow:done") == 5
    assert pool.sessions_opened == 1


@pytest.mark.parametrize(("transport", "legacy"), RESTARTABLE)
async def test_reconnects_once_after_the_server_restarts(transport: McpTransportKind, legacy: bool) -> None:
    async with McpPool() as pool:
        async with serve_fake_mcp(transport=transport, legacy=legacy) as first:
            spec = McpServerSpec(transport=transport, url=first.url)
            assert (await pool.call_tool(spec, "echo", {"text": "one"})).content_text == "one"

        async with serve_fake_mcp(transport=transport, legacy=legacy, port=first.port) as second:
            result = await pool.call_tool(spec, "echo", {"text": "two"})

    assert result.content_text == "two"
    assert "tools/call" in second.recorder.rpc_methods()


async def test_server_that_stays_down_fails_fast_with_mcp_unavailable() -> None:
    async with McpPool() as pool:
        async with serve_fake_mcp(legacy=True) as fake:
            spec = http_spec(fake)
            await pool.call_tool(spec, "echo", {"text": "up"})
        started = time.monotonic()

        with pytest.raises(MCPUnavailable):
            await pool.call_tool(spec, "echo", {"text": "down"})
        with pytest.raises(MCPUnavailable, match="connection refused"):
            await pool.call_tool(spec, "echo", {"text": "still down"})

    assert time.monotonic() - started < 3


@pytest.mark.parametrize(("transport", "legacy"), RESTARTABLE)
async def test_cancelled_caller_stops_within_a_second_and_others_carry_on(
    transport: McpTransportKind,
    legacy: bool,
) -> None:
    other: list[ToolResult] = []
    async with serve_fake_mcp(transport=transport, legacy=legacy) as fake, McpPool() as pool:
        spec = McpServerSpec(transport=transport, url=fake.url)
        await pool.call_tool(spec, "echo", {"text": "warm"})

        async def bystander() -> None:
            other.append(await pool.call_tool(spec, "slow", {"seconds": 1}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(bystander)
            with anyio.CancelScope() as caller:
                tg.start_soon(_cancel_later, caller, 0.3)
                started = time.monotonic()
                await pool.call_tool(spec, "slow", {"seconds": 10})
            cancelled_after = time.monotonic() - started

        with anyio.fail_after(5):
            while "slow:cancelled" not in fake.events:  # noqa: ASYNC110 - polling the server's own log
                await anyio.sleep(0.05)
        after = await pool.call_tool(spec, "echo", {"text": "after"})

    assert caller.cancelled_caught
    assert cancelled_after < 1
    assert [result.content_text for result in other] == ["done"]
    assert after.content_text == "after"
    assert fake.recorder.handshakes == 1


async def test_timeout_keeps_the_pooled_session(fake_mcp: FakeMcpServer) -> None:
    spec = http_spec(fake_mcp, timeout_s=0.3)
    async with McpPool() as pool:
        with pytest.raises(ToolTimeout):
            await pool.call_tool(spec, "slow", {"seconds": 3})
        result = await pool.call_tool(spec, "add", {"a": 1, "b": 2})

    assert result.content_text == "3"
    assert fake_mcp.recorder.handshakes == 1


async def test_error_result_is_returned_not_raised(fake_mcp: FakeMcpServer) -> None:
    async with McpPool() as pool:
        result = await pool.call_tool(http_spec(fake_mcp), "fail", {"message": "nope"})

    assert result.is_error
    assert "nope" in result.content_text


async def test_health_reports_healthy_with_tools(fake_mcp: FakeMcpServer) -> None:
    async with McpPool() as pool:
        status, error, tools = await pool.health(http_spec(fake_mcp))

    assert (status, error) == ("healthy", None)
    assert "echo" in {tool.name for tool in tools}


async def test_health_reports_needs_auth_on_401_challenge(fake_mcp_auth: FakeMcpServer) -> None:
    async with McpPool() as pool:
        health = await pool.health(http_spec(fake_mcp_auth))

    assert health.status == "needs_auth"
    assert health.error is not None
    assert "requires authentication" in health.error
    assert health.tools == []


async def test_needs_auth_is_raised_by_calls(fake_mcp_auth: FakeMcpServer) -> None:
    async with McpPool() as pool:
        with pytest.raises(McpNeedsAuth):
            await pool.call_tool(http_spec(fake_mcp_auth), "echo", {"text": "x"})


async def test_health_with_token_is_healthy(fake_mcp_auth: FakeMcpServer) -> None:
    spec = McpServerSpec(
        transport="streamable_http", url=fake_mcp_auth.url, headers=(("Authorization", f"Bearer {FAKE_MCP_TOKEN}"),)
    )
    async with McpPool() as pool:
        health = await pool.health(spec)

    assert health.status == "healthy"


async def test_health_reports_unhealthy_when_unreachable(unused_tcp_port: int) -> None:
    spec = McpServerSpec(transport="streamable_http", url=f"http://127.0.0.1:{unused_tcp_port}/mcp")
    async with McpPool() as pool:
        status, error, tools = await pool.health(spec)

    assert status == "unhealthy"
    assert error is not None
    assert "connection refused" in error
    assert tools == []


async def test_stdio_server_process_is_reused() -> None:
    command, args = stdio_command()
    spec = McpServerSpec(transport="stdio", command=command, args=tuple(args))
    async with McpPool() as pool:
        first = await pool.call_tool(spec, "echo", {"text": "a"})
        second = await pool.call_tool(spec, "add", {"a": 2, "b": 2})

    assert (first.content_text, second.content_text) == ("a", "4")
    assert pool.sessions_opened == 1


async def test_idle_session_is_closed_and_reopened_on_demand() -> None:
    async with serve_fake_mcp(legacy=True) as fake, McpPool(idle_timeout_s=0.2) as pool:
        spec = http_spec(fake)
        await pool.call_tool(spec, "echo", {"text": "a"})
        with anyio.fail_after(5):
            while not any(request.method == "DELETE" for request in fake.recorder.requests):  # noqa: ASYNC110
                await anyio.sleep(0.05)
        result = await pool.call_tool(spec, "echo", {"text": "b"})

    assert result.content_text == "b"
    assert fake.recorder.handshakes == 2


async def test_leaving_the_pool_closes_its_sessions() -> None:
    async with serve_fake_mcp(legacy=True) as fake:
        async with McpPool() as pool:
            await pool.call_tool(http_spec(fake), "echo", {"text": "a"})
        methods = [request.method for request in fake.recorder.requests]

        with pytest.raises(MCPUnavailable, match="pool is closed"):
            await pool.call_tool(http_spec(fake), "echo", {"text": "late"})

    assert methods[-1] == "DELETE"
