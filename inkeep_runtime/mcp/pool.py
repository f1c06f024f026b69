"""MCP sessions pooled per server, owned by the app lifespan.

```python
async with McpPool() as pool:
    result = await pool.call_tool(spec, "add", {"a": 1, "b": 2})
```

Each server (one `McpServerSpec.key`: transport, URL or command, environment, headers, timeout) gets
one *owner task* in the pool's task group. The owner enters `open_session(spec)`, publishes the
session, and waits until the pool closes, the session sits idle for `idle_timeout_s`, or a caller
reports it dead. The SDK needs that: a session must be entered and exited by the same task, while any
task may send requests through it. So callers run their requests in their own tasks:

- Concurrent calls on one server share the session; the first callers all wait for the one handshake
  (creating an entry has no `await` between lookup and insert, so it cannot race).
- Cancelling a caller cancels only its own request (the SDK aborts the POST or sends
  `notifications/cancelled`); the session and the other callers carry on.
- A session that dropped (server restarted, stream cut, owner task ended) fails the next request
  with `MCPUnavailable`; the pool then discards it and retries that request once on a fresh session,
  but only when the dropped session was an older, reused one, so a server that is down fails fast. A
  request interrupted mid-flight may therefore run twice; MCP gives no idempotency key to avoid that.
- A failed handshake is not cached: the next call tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NamedTuple, TypeVar

import anyio
from anyio.abc import TaskGroup

from inkeep_runtime.errors import InkeepError, MCPUnavailable, ToolError
from inkeep_runtime.mcp.client import CONNECT_TIMEOUT_S, McpNeedsAuth, McpSession, McpToolInfo, ToolResult, open_session
from inkeep_runtime.mcp.spec import McpServerSpec

__all__ = ["McpHealth", "McpHealthStatus", "McpPool"]

logger = logging.getLogger(__name__)

McpHealthStatus = Literal["healthy", "unhealthy", "needs_auth"]

_T = TypeVar("_T")


class McpHealth(NamedTuple):
    """Outcome of a health check: `status, error, tools = await pool.health(spec)`."""

    status: McpHealthStatus
    """`healthy`, `unhealthy`, or `needs_auth` (401 with `WWW-Authenticate`)."""
    error: str | None
    """Why it is not healthy (safe to store as the record's `lastError`)."""
    tools: list[McpToolInfo]
    """The tools offered (empty unless healthy)."""


@dataclass(eq=False, slots=True)
class _Entry:
    """One pooled server: its owner task's session, or why it has none."""

    spec: McpServerSpec
    ready: anyio.Event = field(default_factory=anyio.Event)
    """Set once the handshake succeeded or failed."""
    stop: anyio.Event = field(default_factory=anyio.Event)
    """Asks the owner task to close the session."""
    session: McpSession | None = None
    error: InkeepError | None = None
    in_use: int = 0
    last_used: float = 0.0

    async def opened(self) -> McpSession:
        """Wait for the handshake; the session, or the error that prevented it."""
        await self.ready.wait()
        if self.session is None:
            raise self.error or MCPUnavailable(f"MCP server {self.spec.target} is unavailable.")
        return self.session


class McpPool:
    """Pooled MCP sessions; enter it once (app lifespan) and share it across requests."""

    def __init__(
        self,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        idle_timeout_s: float = 300.0,
        close_timeout_s: float = 5.0,
    ) -> None:
        """Create an unopened pool.

        Args:
            connect_timeout_s: bound on opening one session (connection and handshake).
            idle_timeout_s: a session unused this long is closed (the next call reopens it).
            close_timeout_s: bound on closing all sessions when the pool exits.
        """
        self._connect_timeout_s = connect_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._close_timeout_s = close_timeout_s
        self._entries: dict[str, _Entry] = {}
        self._task_group: TaskGroup | None = None
        self.sessions_opened = 0
        """How many sessions this pool has opened (for tests and metrics)."""

    async def __aenter__(self) -> McpPool:
        """Start the pool's task group (sessions open lazily, on first use)."""
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool | None:
        """Close every session (bounded by `close_timeout_s`) and stop the owner tasks."""
        task_group, self._task_group = self._task_group, None
        assert task_group is not None, "McpPool was not entered"
        for entry in list(self._entries.values()):
            entry.stop.set()
        task_group.cancel_scope.deadline = anyio.current_time() + self._close_timeout_s
        return await task_group.__aexit__(exc_type, exc, traceback)

    async def list_tools(self, spec: McpServerSpec) -> list[McpToolInfo]:
        """The tools of the server of `spec`.

        Raises:
            McpNeedsAuth: the server wants credentials.
            MCPUnavailable: the server cannot be reached (after one reconnect of a dropped session).
            ToolTimeout: the listing took longer than `spec.timeout_s`.
            ToolError: the server answered with a JSON-RPC error.
        """
        return await self._with_session(spec, lambda session: session.list_tools())

    async def call_tool(self, spec: McpServerSpec, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Call tool `name` on the server of `spec`; an `isError` result is returned, not raised.

        Raises:
            McpNeedsAuth: the server wants credentials.
            MCPUnavailable: the server cannot be reached (after one reconnect of a dropped session).
            ToolTimeout: the call took longer than `spec.timeout_s`.
            ToolError: the server answered with a JSON-RPC error.
        """
        return await self._with_session(spec, lambda session: session.call_tool(name, arguments))

    async def health(self, spec: McpServerSpec) -> McpHealth:
        """Check the server by listing its tools; never raises a `ToolError`."""
        try:
            tools = await self.list_tools(spec)
        except McpNeedsAuth as exc:
            return McpHealth("needs_auth", exc.detail, [])
        except ToolError as exc:
            return McpHealth("unhealthy", exc.detail, [])
        return McpHealth("healthy", None, tools)

    async def _with_session(self, spec: McpServerSpec, use: Callable[[McpSession], Awaitable[_T]]) -> _T:
        for attempt in range(2):
            entry, is_reused = self._entry(spec)
            entry.in_use += 1
            try:
                return await use(await entry.opened())
            except MCPUnavailable as exc:
                self._discard(entry)
                if attempt or not is_reused or isinstance(exc, McpNeedsAuth):
                    raise
                logger.info("MCP session with %s dropped (%s); reconnecting", spec.target, exc.detail)
            finally:
                entry.in_use -= 1
                entry.last_used = anyio.current_time()
        msg = "unreachable"
        raise AssertionError(msg)  # pragma: no cover

    def _entry(self, spec: McpServerSpec) -> tuple[_Entry, bool]:
        """The pooled entry for `spec` and whether its session was already open, starting an owner task if needed.

        No `await` here, so concurrent first callers cannot open two sessions.
        """
        if self._task_group is None:
            msg = "The MCP pool is closed (or was never entered)."
            raise MCPUnavailable(msg)
        entry = self._entries.get(spec.key)
        if entry is not None and not entry.stop.is_set():
            return entry, entry.session is not None
        entry = _Entry(spec, last_used=anyio.current_time())
        self._entries[spec.key] = entry
        self._task_group.start_soon(self._own, entry, name=f"mcp session {spec.target}")
        return entry, False

    def _discard(self, entry: _Entry) -> None:
        """Forget `entry` and ask its owner to close it; the next call opens a new session."""
        if self._entries.get(entry.spec.key) is entry:
            del self._entries[entry.spec.key]
        entry.stop.set()

    async def _own(self, entry: _Entry) -> None:
        """Owner task: open the session, keep it open until stopped or idle, then close it."""
        target = entry.spec.target
        try:
            async with open_session(entry.spec, connect_timeout_s=self._connect_timeout_s) as session:
                self.sessions_opened += 1
                entry.session = session
                entry.ready.set()
                logger.debug("MCP session with %s opened", target)
                await self._wait_until_idle_or_stopped(entry)
                self._discard(entry)
            logger.debug("MCP session with %s closed", target)
        except InkeepError as exc:
            entry.error = exc
            logger.warning("MCP session with %s failed: %s", target, exc.detail)
        except Exception as exc:
            # open_session maps SDK errors itself; anything else is a bug, but must not take the pool down.
            logger.exception("MCP session with %s failed unexpectedly", target)
            entry.error = MCPUnavailable(f"MCP server {target} is unavailable: {type(exc).__name__}.")
        finally:
            self._discard(entry)
            entry.ready.set()

    async def _wait_until_idle_or_stopped(self, entry: _Entry) -> None:
        while not entry.stop.is_set():
            idle_s = anyio.current_time() - entry.last_used
            with anyio.move_on_after(max(self._idle_timeout_s - idle_s, 0.0)):
                await entry.stop.wait()
            idle_s = anyio.current_time() - entry.last_used
            if entry.in_use == 0 and idle_s >= self._idle_timeout_s:
                logger.debug("MCP session with %s idle for %.0f s; closing", entry.spec.target, idle_s)
                return
