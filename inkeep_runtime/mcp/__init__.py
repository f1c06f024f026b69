"""MCP tools: server specs from tool records, the client boundary, and the lifespan-owned session pool."""

from __future__ import annotations

from inkeep_runtime.mcp.client import McpNeedsAuth, McpSession, McpToolInfo, ToolResult, open_session
from inkeep_runtime.mcp.pool import McpHealth, McpHealthStatus, McpPool
from inkeep_runtime.mcp.spec import McpConfigError, McpServerSpec, McpTransportKind, spec_from_config

__all__ = [
    "McpConfigError",
    "McpHealth",
    "McpHealthStatus",
    "McpNeedsAuth",
    "McpPool",
    "McpServerSpec",
    "McpSession",
    "McpToolInfo",
    "McpTransportKind",
    "ToolResult",
    "open_session",
    "spec_from_config",
]
