"""The MCP client boundary: the only module that imports the `mcp` SDK.

`open_session(spec)` connects over streamable HTTP, SSE or stdio and yields an `McpSession` whose
`list_tools()` and `call_tool()` return our own frozen values and raise only our own errors:

- a server that cannot be reached, refuses the handshake or drops the connection → `MCPUnavailable`;
- an HTTP 401 with `WWW-Authenticate` → `McpNeedsAuth` (carries the challenge, so a health check can
  report `needs_auth`);
- a call that outlives `spec.timeout_s` → `ToolTimeout` (the session stays usable);
- a JSON-RPC error answer → `ToolError`; an `isError` tool result is *not* an exception but
  `ToolResult(is_error=True)`, because the model should see it.

Why a context manager and not an object with `connect()`/`close()`: the SDK's transports run inside
anyio task groups, so a session must be entered and exited by the same task. Any task may send
requests through an open session, though; `McpPool` keeps one owner task per server for that reason.
The transports' task groups wrap failures in (nested) `ExceptionGroup`s; `open_session` unwraps them
once, here, into the errors above (`raise ... from group`), and re-raises errors from the `async with`
body unchanged.
"""

from __future__ import annotations

import json
import math
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types as types
from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from inkeep_runtime.errors import InkeepError, MCPUnavailable, ToolError, ToolTimeout
from inkeep_runtime.mcp.spec import McpServerSpec

__all__ = [
    "CONNECT_TIMEOUT_S",
    "McpNeedsAuth",
    "McpSession",
    "McpToolInfo",
    "ToolResult",
    "open_session",
]

CONNECT_TIMEOUT_S = 10.0
"""How long opening a session (TCP, process start, handshake) may take."""

_READ_TIMEOUT_S = 300.0
"""HTTP read timeout; long because the server-to-client event stream idles. Calls are bounded by `timeout_s`."""

_MAX_TOOL_PAGES = 100
"""A paginating server that never ends cannot hang `list_tools`."""

_HTTP_ERROR_STANDIN = "Server returned an error response"
"""The SDK's JSON-RPC error for an HTTP error status without a JSON-RPC body (mcp 2.3 `streamable_http.py`)."""

_CLIENT_INFO = types.Implementation(name="inkeep-runtime", version="0.1.0")

_T = TypeVar("_T")


class McpNeedsAuth(MCPUnavailable):
    """The MCP server answered 401 with a `WWW-Authenticate` challenge: credentials (OAuth) are needed."""

    code = "mcp_needs_auth"
    title = "MCP Server Needs Authentication"

    def __init__(self, detail: str, *, www_authenticate: str) -> None:
        super().__init__(detail, www_authenticate=www_authenticate)
        self.www_authenticate = www_authenticate
        """The server's `WWW-Authenticate` header (e.g. `Bearer resource_metadata="..."`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class McpToolInfo:
    """One tool an MCP server offers."""

    name: str
    """The tool's MCP name."""
    description: str | None
    """What the tool does, for the model."""
    input_schema: dict[str, Any]
    """JSON Schema of the arguments (an object schema)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult:
    """The outcome of one MCP tool call."""

    content_text: str
    """Text content blocks joined by newlines (other blocks summarised); the JSON of `structured` when no text."""
    structured: Any | None = None
    """The result's `structuredContent`, when the tool declares an output schema."""
    is_error: bool = False
    """The tool reported failure (`isError`); `content_text` says why."""
    error_type: str | None = None
    """Set by the caller when the call itself failed (query-log taxonomy: `timeout`, `mcp_connection`, ...)."""


@dataclass(slots=True)
class _HttpOutcome:
    """What the HTTP layer saw that the SDK does not report: the last auth challenge and error status."""

    www_authenticate: str | None = None
    error_status: int | None = None

    async def record(self, response: httpx2.Response) -> None:
        """Response hook of the session's HTTP client."""
        if response.status_code >= 400:
            self.error_status = response.status_code
        if response.status_code == 401 and "www-authenticate" in response.headers:
            self.www_authenticate = response.headers["www-authenticate"]


class McpSession:
    """An open session with one MCP server. Any task may call it while its `open_session` block is open."""

    def __init__(self, client: Client, spec: McpServerSpec, outcome: _HttpOutcome) -> None:
        self._client = client
        self._outcome = outcome
        self._is_open = True
        self.spec = spec

    @property
    def is_open(self) -> bool:
        """Whether the `open_session` block that owns this session is still running."""
        return self._is_open

    async def list_tools(self) -> list[McpToolInfo]:
        """Every tool the server offers (all pages).

        Raises:
            MCPUnavailable: the session is closed or the connection dropped.
            ToolTimeout: the listing took longer than `spec.timeout_s`.
            ToolError: the server answered with a JSON-RPC error.
        """
        tools: list[McpToolInfo] = []
        cursor: str | None = None
        for _ in range(_MAX_TOOL_PAGES):
            page = await self._request("tools/list", partial(self._client.list_tools, cursor=cursor))
            tools.extend(
                McpToolInfo(name=tool.name, description=tool.description, input_schema=dict(tool.input_schema))
                for tool in page.tools
            )
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Call tool `name`; an `isError` result comes back as `ToolResult(is_error=True)`.

        Raises:
            MCPUnavailable: the session is closed or the connection dropped.
            ToolTimeout: the call took longer than `spec.timeout_s`.
            ToolError: the server answered with a JSON-RPC error instead of a result.
        """
        result = await self._request(f"tools/call {name!r}", lambda: self._client.call_tool(name, arguments))
        return _tool_result(result)

    async def _request(self, what: str, send: Callable[[], Awaitable[_T]]) -> _T:
        target = self.spec.target
        if not self._is_open:
            msg = f"The session with MCP server {target} is closed."
            raise MCPUnavailable(msg)
        try:
            with anyio.fail_after(self.spec.timeout_s):
                return await send()
        except TimeoutError as exc:
            msg = f"MCP {what} on {target} did not finish within {self.spec.timeout_s:g} s."
            raise ToolTimeout(msg) from exc
        except MCPError as exc:
            raise self._rejected(what, exc) from exc
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            msg = f"The connection to MCP server {target} closed during {what}."
            raise MCPUnavailable(msg) from exc
        except ValidationError as exc:
            msg = f"MCP server {target} answered {what} with an invalid result."
            raise ToolError(msg) from exc

    def _rejected(self, what: str, exc: MCPError) -> InkeepError:
        target = self.spec.target
        if self._outcome.www_authenticate is not None:
            return _needs_auth(target, self._outcome.www_authenticate)
        if exc.code == types.REQUEST_TIMEOUT:
            return ToolTimeout(f"MCP server {target} timed out during {what}.")
        if exc.code == types.CONNECTION_CLOSED or _is_lost_session(exc):
            return MCPUnavailable(f"The session with MCP server {target} dropped during {what}: {exc.message}.")
        if exc.code == types.INTERNAL_ERROR and exc.message == _HTTP_ERROR_STANDIN:
            status = self._outcome.error_status
            return MCPUnavailable(f"MCP server {target} answered {what} with HTTP {status or 'error'}.")
        return ToolError(f"MCP server {target} rejected {what}: {exc.message} (code {exc.code}).")


@asynccontextmanager
async def open_session(
    spec: McpServerSpec,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
) -> AsyncIterator[McpSession]:
    """Connect to the server of `spec` and yield a session; enter and exit it in the same task.

    Raises:
        McpNeedsAuth: the server answered 401 with a `WWW-Authenticate` challenge.
        MCPUnavailable: the server could not be reached, refused the handshake, did not answer within
            `connect_timeout_s`, or the connection failed while the block ran.
    """
    outcome = _HttpOutcome()
    session: McpSession | None = None
    body_error: Exception | None = None
    connecting = anyio.CancelScope(deadline=anyio.current_time() + connect_timeout_s)
    timed_out = f"MCP server {spec.target} did not complete the handshake within {connect_timeout_s:g} s."
    try:
        with connecting:
            async with AsyncExitStack() as stack:
                transport = _transport(spec, outcome, stack, await _ssl_context() if spec.url else None)
                client = await stack.enter_async_context(
                    Client(
                        transport,
                        mode="auto",
                        cache=None,
                        client_info=_CLIENT_INFO,
                    )
                )
                connecting.deadline = math.inf
                outcome.error_status = None  # a refused discover probe (legacy server) is not an error
                session = McpSession(client, spec, outcome)
                try:
                    yield session
                except Exception as exc:
                    body_error = exc
                    raise
                finally:
                    session._is_open = False  # the owner closes its session
    except Exception as exc:
        leaves = _leaves(exc)
        if body_error is not None and body_error in leaves:
            if body_error is exc:
                raise
            raise body_error from exc
        if session is None and connecting.cancel_called:
            raise MCPUnavailable(timed_out) from exc
        raise _unavailable(spec, outcome, leaves) from exc
    if session is None:
        raise MCPUnavailable(timed_out)


async def _ssl_context() -> ssl.SSLContext:
    """The default TLS context, built once in a worker thread (loading the CA bundle reads files)."""
    return await anyio.to_thread.run_sync(_default_ssl_context)


@cache
def _default_ssl_context() -> ssl.SSLContext:
    return httpx2.create_ssl_context()


def _transport(
    spec: McpServerSpec, outcome: _HttpOutcome, stack: AsyncExitStack, ssl_context: ssl.SSLContext | None
) -> Any:
    """The SDK transport for `spec` (an async context manager yielding the read and write streams)."""
    headers = dict(spec.headers)
    if spec.transport == "stdio":
        assert spec.command is not None  # spec_from_config guarantees it
        return stdio_client(StdioServerParameters(command=spec.command, args=list(spec.args), env=dict(spec.env)))

    def http_client(
        headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            headers=headers,
            auth=auth,
            verify=ssl_context or True,
            event_hooks={"response": [outcome.record]},
            timeout=timeout or httpx2.Timeout(CONNECT_TIMEOUT_S, read=_READ_TIMEOUT_S),
        )

    assert spec.url is not None  # spec_from_config guarantees it
    if spec.transport == "sse":
        return sse_client(
            spec.url,
            headers=headers,
            timeout=CONNECT_TIMEOUT_S,
            sse_read_timeout=_READ_TIMEOUT_S,
            httpx_client_factory=http_client,
        )
    shared = http_client(headers)
    stack.push_async_callback(shared.aclose)
    return streamable_http_client(spec.url, http_client=shared)


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, depth first."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _unavailable(spec: McpServerSpec, outcome: _HttpOutcome, leaves: list[BaseException]) -> InkeepError:
    """One error for a failed connection, from the leaves of what the transport raised."""
    target = spec.target
    if outcome.www_authenticate is not None:
        return _needs_auth(target, outcome.www_authenticate)
    for leaf in leaves:
        if isinstance(leaf, InkeepError):
            return leaf
    reason = _reason(leaves[0], outcome) if leaves else "unknown error"
    return MCPUnavailable(f"MCP server {target} is unavailable: {reason}.")


def _reason(leaf: BaseException, outcome: _HttpOutcome) -> str:
    if isinstance(leaf, httpx2.HTTPStatusError):
        return f"HTTP {leaf.response.status_code}"
    if isinstance(leaf, MCPError) and outcome.error_status is not None:
        return f"HTTP {outcome.error_status}"
    if isinstance(leaf, httpx2.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(leaf, httpx2.TimeoutException):
        return "the connection timed out"
    if isinstance(leaf, OSError) and not isinstance(leaf, ConnectionError):
        return f"could not start the server process ({leaf.strerror or leaf})"
    return str(leaf) or type(leaf).__name__


def _is_lost_session(exc: MCPError) -> bool:
    """The server no longer knows our session id (it restarted): "Session terminated" / "Session not found"."""
    return exc.code == types.INVALID_REQUEST and "session" in exc.message.lower()


def _needs_auth(target: str, www_authenticate: str) -> McpNeedsAuth:
    msg = f"MCP server {target} requires authentication (HTTP 401)."
    return McpNeedsAuth(msg, www_authenticate=www_authenticate)


def _tool_result(result: types.CallToolResult) -> ToolResult:
    parts = [_block_text(block) for block in result.content]
    text = "\n".join(part for part in parts if part)
    structured = result.structured_content
    if not text and structured is not None:
        text = json.dumps(structured, ensure_ascii=False)
    return ToolResult(content_text=text, structured=structured, is_error=bool(result.is_error))


def _block_text(block: types.ContentBlock) -> str:
    """Text of one content block; binary blocks are named, not inlined (the model cannot read base64)."""
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return resource.text
        return f"[resource {resource.uri} ({resource.mime_type or 'binary'})]"
    if isinstance(block, types.ResourceLink):
        return f"[resource link {block.uri}]"
    if isinstance(block, types.ImageContent | types.AudioContent):
        return f"[{block.type} ({block.mime_type})]"
    return ""
