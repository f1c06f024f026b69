"""The MCP client boundary against real MCP servers on loopback (and one over stdio)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from inkeep_runtime.errors import MCPUnavailable, ToolError, ToolTimeout
from inkeep_runtime.mcp import (
    McpConfigError,
    McpNeedsAuth,
    McpServerSpec,
    McpTransportKind,
    ToolResult,
    open_session,
    spec_from_config,
)
from tests.fakes.servers import serve
from tests.fakes_mcp import fake_mcp as fakes
from tests.fakes_mcp.fake_mcp import FAKE_MCP_TOKEN, FakeMcpServer, serve_fake_mcp, stdio_command

# The shared fixtures, until tests/conftest.py registers tests.fakes_mcp.fake_mcp as a plugin.
fake_mcp = fakes.fake_mcp
fake_mcp_auth = fakes.fake_mcp_auth
fake_mcp_sse = fakes.fake_mcp_sse

TRANSPORTS = ["streamable_http", "streamable_http_legacy", "sse", "stdio"]
"""`streamable_http_legacy` is a server that refuses the 2026 discover probe (stateful `initialize` session)."""


@asynccontextmanager
async def server_spec(
    kind: str,
    *,
    timeout_s: float = 10.0,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[McpServerSpec]:
    """A running fake of `kind` and the spec that reaches it."""
    pairs = tuple(sorted((headers or {}).items()))
    if kind == "stdio":
        command, args = stdio_command()
        yield McpServerSpec(transport="stdio", command=command, args=tuple(args), timeout_s=timeout_s)
        return
    transport: McpTransportKind = "sse" if kind == "sse" else "streamable_http"
    async with serve_fake_mcp(transport=transport, legacy=kind.endswith("legacy")) as fake:
        yield McpServerSpec(transport=transport, url=fake.url, headers=pairs, timeout_s=timeout_s)


def http_config(url: str, **server: Any) -> dict[str, Any]:
    return {"type": "mcp", "mcp": {"server": {"url": url, **server}, "transport": {"type": "streamable_http"}}}


# --- spec_from_config -------------------------------------------------------------------------------------------


def test_spec_merges_record_headers_over_config_headers_case_insensitively() -> None:
    config = http_config("http://127.0.0.1:1/mcp", headers={"authorization": "Bearer old", "X-A": "a"}, timeout=1500)

    spec = spec_from_config(config, {"Authorization": "Bearer new"})

    assert spec.transport == "streamable_http"
    assert spec.url == "http://127.0.0.1:1/mcp"
    assert dict(spec.headers) == {"Authorization": "Bearer new", "X-A": "a"}
    assert spec.timeout_s == 1.5


def test_spec_reads_a_stdio_command_and_defaults_the_timeout() -> None:
    config = {
        "type": "mcp",
        "mcp": {
            "server": {"command": "srv", "args": ["-v"], "env": {"K": "v"}},
            "transport": {"type": "stdio"},
            "activeTools": ["a"],
        },
    }

    spec = spec_from_config(config, None, default_timeout_s=7)

    assert (spec.command, spec.args, spec.env, spec.timeout_s) == ("srv", ("-v",), (("K", "v"),), 7)


def test_spec_reads_sse_transport() -> None:
    config = {"mcp": {"server": {"url": "https://example.test/sse"}, "transport": {"type": "sse"}}}

    assert spec_from_config(config).transport == "sse"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "function"}, "type 'function' is not supported"),
        ({"type": "mcp"}, "config.mcp must be an object"),
        ({"mcp": {"server": {}}}, "needs config.mcp.server.url"),
        ({"mcp": {"server": {"url": "ftp://x/mcp"}}}, "needs config.mcp.server.url"),
        (
            {"mcp": {"server": {"url": "http://x/mcp"}, "transport": {"type": "websocket"}}},
            "'websocket' is not supported",
        ),
        (
            {"mcp": {"server": {"url": "http://x/mcp"}, "transport": {"type": "stdio"}}},
            "needs config.mcp.server.command",
        ),
        ({"mcp": {"server": {"command": "x", "args": "-v"}, "transport": {"type": "stdio"}}}, "args must be a list"),
        ({"mcp": {"server": {"url": "http://x/mcp", "timeout": 0}}}, "positive number of milliseconds"),
        ({"mcp": {"server": {"url": "http://x/mcp", "headers": {"a": 1}}}}, "must map strings to strings"),
    ],
)
def test_spec_rejects_unusable_configs(config: dict[str, Any], message: str) -> None:
    with pytest.raises(McpConfigError, match=message):
        spec_from_config(config)


def test_spec_keeps_secrets_out_of_repr_and_keys_on_headers() -> None:
    plain = spec_from_config(http_config("http://127.0.0.1:1/mcp"))
    secret = spec_from_config(http_config("http://127.0.0.1:1/mcp"), {"Authorization": "Bearer s3cret"})

    assert "s3cret" not in repr(secret)
    assert plain.key != secret.key
    assert secret.key == spec_from_config(http_config("http://127.0.0.1:1/mcp"), {"Authorization": "Bearer s3cret"}).key


# --- sessions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_lists_and_calls_tools(kind: str) -> None:
    async with server_spec(kind) as spec, open_session(spec) as session:
        tools = {tool.name: tool for tool in await session.list_tools()}
        result = await session.call_tool("add", {"a": 2, "b": 3})

    assert set(tools) == {"echo", "add", "slow", "fail", "reject", "headers"}
    assert tools["add"].description == "Add two integers."
    assert tools["add"].input_schema["properties"]["a"]["type"] == "integer"
    assert result == ToolResult(content_text="5", structured={"result": 5}, is_error=False)


@pytest.mark.parametrize("kind", ["streamable_http", "streamable_http_legacy", "sse"])
async def test_headers_reach_the_server(kind: str) -> None:
    headers = {"Authorization": "Bearer t", "X-Tenant": "t1"}
    async with server_spec(kind, headers=headers) as spec, open_session(spec) as session:
        result = await session.call_tool("headers", {})

    seen = json.loads(result.content_text)
    assert seen["authorization"] == "Bearer t"
    assert seen["x-tenant"] == "t1"


async def test_tool_failure_is_an_error_result_not_an_exception(fake_mcp: FakeMcpServer) -> None:
    spec = McpServerSpec(transport="streamable_http", url=fake_mcp.url)
    async with open_session(spec) as session:
        failed = await session.call_tool("fail", {"message": "disk full"})
        unknown = await session.call_tool("nope", {})

    assert failed.is_error
    assert "disk full" in failed.content_text
    assert unknown.is_error
    assert "nope" in unknown.content_text


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_slow_call_times_out_and_the_session_keeps_working(kind: str) -> None:
    async with server_spec(kind, timeout_s=0.3) as spec, open_session(spec) as session:
        started = time.monotonic()
        with pytest.raises(ToolTimeout, match=r"did not finish within 0\.3 s"):
            await session.call_tool("slow", {"seconds": 3})
        elapsed = time.monotonic() - started
        after = await session.call_tool("echo", {"text": "still here"})

    assert elapsed < 1.5
    assert after.content_text == "still here"


async def test_unreachable_url_fails_fast_with_mcp_unavailable(unused_tcp_port: int) -> None:
    spec = McpServerSpec(transport="streamable_http", url=f"http://127.0.0.1:{unused_tcp_port}/mcp")
    started = time.monotonic()

    with pytest.raises(MCPUnavailable, match="connection refused"):
        async with open_session(spec):
            pytest.fail("connected to nothing")

    assert time.monotonic() - started < 2


async def test_unreachable_sse_url_fails_with_mcp_unavailable(unused_tcp_port: int) -> None:
    spec = McpServerSpec(transport="sse", url=f"http://127.0.0.1:{unused_tcp_port}/sse")

    with pytest.raises(MCPUnavailable):
        async with open_session(spec):
            pytest.fail("connected to nothing")


async def test_missing_stdio_command_fails_with_mcp_unavailable() -> None:
    spec = McpServerSpec(transport="stdio", command="/nonexistent/mcp-server")

    with pytest.raises(MCPUnavailable, match="could not start the server process"):
        async with open_session(spec):
            pytest.fail("started nothing")


async def test_wrong_path_fails_with_mcp_unavailable(fake_mcp: FakeMcpServer) -> None:
    spec = McpServerSpec(transport="streamable_http", url=f"{fake_mcp.base_url}/nope")

    with pytest.raises(MCPUnavailable, match="HTTP 404"):
        async with open_session(spec):
            pytest.fail("connected to a 404")


async def test_server_that_never_answers_the_handshake_times_out() -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await anyio.sleep_forever()

    async with serve(silent) as base:
        spec = McpServerSpec(transport="streamable_http", url=f"{base}/mcp")
        started = time.monotonic()
        with pytest.raises(MCPUnavailable, match=r"did not complete the handshake within 0\.3 s"):
            async with open_session(spec, connect_timeout_s=0.3):
                pytest.fail("handshake answered")
        assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_401_with_challenge_raises_needs_auth(transport: McpTransportKind) -> None:
    async with serve_fake_mcp(transport=transport, bearer_token=FAKE_MCP_TOKEN) as fake:
        spec = McpServerSpec(transport=transport, url=fake.url)
        with pytest.raises(McpNeedsAuth) as caught:
            async with open_session(spec):
                pytest.fail("opened without a token")

    assert caught.value.www_authenticate.startswith('Bearer resource_metadata="')
    assert isinstance(caught.value, MCPUnavailable)


async def test_bearer_token_opens_a_protected_server(fake_mcp_auth: FakeMcpServer) -> None:
    spec = McpServerSpec(
        transport="streamable_http", url=fake_mcp_auth.url, headers=(("Authorization", f"Bearer {FAKE_MCP_TOKEN}"),)
    )
    async with open_session(spec) as session:
        result = await session.call_tool("echo", {"text": "in"})

    assert result.content_text == "in"


async def test_errors_raised_in_the_block_pass_through_unwrapped(fake_mcp: FakeMcpServer) -> None:
    spec = McpServerSpec(transport="streamable_http", url=fake_mcp.url)

    mine = KeyError("mine")
    with pytest.raises(KeyError) as caught:
        async with open_session(spec):
            raise mine
    assert caught.value is mine

    timeout = ToolTimeout("also mine")
    with pytest.raises(ToolTimeout) as caught_timeout:
        async with open_session(spec):
            raise timeout
    assert caught_timeout.value is timeout


async def test_session_refuses_calls_after_its_block_closed(fake_mcp_sse: FakeMcpServer) -> None:
    spec = McpServerSpec(transport="sse", url=fake_mcp_sse.url)
    async with open_session(spec) as session:
        assert session.is_open

    assert not session.is_open
    with pytest.raises(MCPUnavailable, match="is closed"):
        await session.call_tool("echo", {"text": "late"})


async def test_json_rpc_error_answer_becomes_tool_error(fake_mcp: FakeMcpServer) -> None:
    spec = McpServerSpec(transport="streamable_http", url=fake_mcp.url)
    async with open_session(spec) as session:
        with pytest.raises(ToolError, match="rejected tools/call 'reject': no way") as caught:
            await session.call_tool("reject", {"message": "no way"})
        after = await session.call_tool("add", {"a": 1, "b": 1})

    assert not isinstance(caught.value, MCPUnavailable | ToolTimeout)
    assert after.content_text == "2"
