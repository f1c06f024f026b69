"""How a run reaches MCP tools: the catalog an agent's model sees and the calls it makes.

A binding whose server was synced carries its tool list in the definition (`McpBinding.cached_tools`);
a never-synced server is listed live and the list is remembered for a minute (a failed listing for a
few seconds, so an unreachable server does not slow every turn). Calls are bounded by the tool's
timeout; failures and timeouts come back as error results the model reads, never as exceptions.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Final

import anyio

from inkeep_runtime.errors import InkeepError
from inkeep_runtime.graph.definition import AgentDefinition, GraphDefinition, McpBinding
from inkeep_runtime.graph.relations import McpTarget, ToolCatalog, build_catalog
from inkeep_runtime.mcp import McpPool, McpToolInfo, ToolResult
from inkeep_runtime.observe.taxonomy import error_type_of

__all__ = ["ToolAccess"]

logger = logging.getLogger(__name__)

_TOOL_LIST_TTL_S: Final = 60.0
_TOOL_LIST_FAILURE_TTL_S: Final = 5.0


class ToolAccess:
    """The MCP side of a graph executor (one per executor): tool catalogs and tool calls."""

    def __init__(self, mcp: McpPool, *, tool_timeout_s: float) -> None:
        self._mcp = mcp
        self._tool_timeout_s = tool_timeout_s
        self._tool_lists: dict[str, tuple[float, list[McpToolInfo]]] = {}

    async def catalog(self, graph: GraphDefinition, agent: AgentDefinition, *, is_delegated: bool) -> ToolCatalog:
        """The tools `agent` may call in this turn (a delegated agent cannot transfer)."""
        found: list[tuple[McpBinding, McpToolInfo]] = []
        for binding in agent.tools:
            if binding.is_disabled:
                continue
            infos = binding.cached_tools if binding.cached_tools is not None else await self._live_tools(binding)
            found.extend((binding, info) for info in infos)
        shown = agent if not is_delegated else replace(agent, transfers=())
        return build_catalog(graph, shown, found)

    async def call_mcp(self, target: McpTarget, arguments: dict[str, Any]) -> ToolResult:
        """Call an MCP tool; failures and timeouts come back as error results."""
        try:
            with anyio.fail_after(target.binding.spec.timeout_s):
                return await self._mcp.call_tool(target.binding.spec, target.tool_name, arguments)
        except TimeoutError:
            return ToolResult(
                content_text=f"Tool '{target.tool_name}' timed out after {target.binding.spec.timeout_s:g} s.",
                is_error=True,
                error_type="timeout",
            )
        except InkeepError as exc:
            failed = f"Tool '{target.tool_name}' failed: {exc.detail}"
            return ToolResult(content_text=failed, is_error=True, error_type=error_type_of(exc))

    async def _live_tools(self, binding: McpBinding) -> list[McpToolInfo]:
        """Tools of a never-synced server, listed live and remembered for a minute."""
        cached = self._tool_lists.get(binding.spec.key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            with anyio.fail_after(self._tool_timeout_s):
                infos = await self._mcp.list_tools(binding.spec)
        except (InkeepError, TimeoutError) as exc:
            logger.warning("MCP tool '%s' (%s) is unavailable: %s", binding.tool_id, binding.spec.target, exc)
            self._tool_lists[binding.spec.key] = (time.monotonic() + _TOOL_LIST_FAILURE_TTL_S, [])
            return []
        self._tool_lists[binding.spec.key] = (time.monotonic() + _TOOL_LIST_TTL_S, infos)
        return infos
