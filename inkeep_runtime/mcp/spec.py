"""Where an MCP server is and how to reach it: `McpServerSpec`, built from a tool record's `config`.

This module does not import the `mcp` SDK, so the manage layer can validate configs cheaply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard
from urllib.parse import urlsplit

from inkeep_runtime.errors import ToolError

__all__ = [
    "DEFAULT_TOOL_TIMEOUT_S",
    "McpConfigError",
    "McpServerSpec",
    "McpTransportKind",
    "spec_from_config",
]

McpTransportKind = Literal["streamable_http", "sse", "stdio"]

DEFAULT_TOOL_TIMEOUT_S = 60.0
"""Per-call timeout when the record sets none (the MCP TypeScript SDK's request default)."""

_TRANSPORTS: tuple[McpTransportKind, ...] = ("streamable_http", "sse", "stdio")


class McpConfigError(ToolError):
    """A tool record's MCP config cannot be used to reach a server."""

    code = "mcp_config_invalid"
    title = "Invalid MCP Configuration"


@dataclass(frozen=True, slots=True, kw_only=True)
class McpServerSpec:
    """Everything needed to open a session with one MCP server. Hashable; secrets stay out of `repr`."""

    transport: McpTransportKind
    """Which MCP transport to speak."""
    url: str | None = None
    """Endpoint of the HTTP transports (`.../mcp` or `.../sse`)."""
    command: str | None = None
    """Executable of a stdio server."""
    args: tuple[str, ...] = ()
    """Arguments of a stdio server."""
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Extra environment of a stdio server (sorted pairs; may hold secrets)."""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """HTTP headers sent on every request (sorted pairs; may hold secrets)."""
    timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    """Per-call timeout."""

    @property
    def key(self) -> str:
        """Pool key: a hash of what a session is bound to (transport, target, environment, headers, timeout)."""
        identity = [
            self.transport,
            self.url,
            self.command,
            list(self.args),
            list(self.env),
            list(self.headers),
            self.timeout_s,
        ]
        return hashlib.sha256(json.dumps(identity).encode()).hexdigest()

    @property
    def target(self) -> str:
        """A human-readable name of the server for messages (URL or command; never headers or env)."""
        if self.url is not None:
            return self.url
        return " ".join([self.command or "", *self.args]).strip()


def spec_from_config(
    config: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    default_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
) -> McpServerSpec:
    """Build the spec of a tool record's MCP server.

    Args:
        config: the record's `config` as stored (`{type: "mcp", mcp: {server, transport, activeTools}}`,
            camelCase keys; snake_case is accepted too).
        headers: the record-level `headers`; they win over `config.mcp.server.headers` (names compare
            case-insensitively).
        default_timeout_s: per-call timeout when `server.timeout` (milliseconds) is not set.

    Raises:
        McpConfigError: the config is not an MCP config, or names no usable URL or command.
    """
    if config.get("type", "mcp") != "mcp":
        msg = f"Tool config type {config.get('type')!r} is not supported; expected 'mcp'."
        raise McpConfigError(msg)
    mcp = _mapping(config.get("mcp"), "config.mcp")
    server = _mapping(mcp.get("server"), "config.mcp.server")
    transport_config = mcp.get("transport") or {}
    transport = _mapping(transport_config, "config.mcp.transport").get("type", "streamable_http")
    if not _is_transport(transport):
        msg = f"MCP transport {transport!r} is not supported; expected one of {', '.join(_TRANSPORTS)}."
        raise McpConfigError(msg)
    timeout_ms = server.get("timeout")
    if timeout_ms is not None and (
        isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int | float) or timeout_ms <= 0
    ):
        msg = f"config.mcp.server.timeout must be a positive number of milliseconds, not {timeout_ms!r}."
        raise McpConfigError(msg)
    timeout_s = timeout_ms / 1000 if timeout_ms is not None else default_timeout_s
    merged = _merge_headers(_strings(server.get("headers"), "config.mcp.server.headers"), _strings(headers, "headers"))
    if transport == "stdio":
        command = server.get("command")
        if not isinstance(command, str) or not command:
            msg = "A stdio MCP server needs config.mcp.server.command (a non-empty string)."
            raise McpConfigError(msg)
        args = server.get("args") or []
        if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
            msg = "config.mcp.server.args must be a list of strings."
            raise McpConfigError(msg)
        env = _strings(server.get("env"), "config.mcp.server.env")
        return McpServerSpec(
            transport=transport,
            command=command,
            args=tuple(args),
            env=tuple(sorted(env.items())),
            headers=merged,
            timeout_s=timeout_s,
        )
    url = server.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        msg = f"A {transport} MCP server needs config.mcp.server.url (an http or https URL), not {url!r}."
        raise McpConfigError(msg)
    return McpServerSpec(transport=transport, url=url, headers=merged, timeout_s=timeout_s)


def _is_transport(value: object) -> TypeGuard[McpTransportKind]:
    return value in _TRANSPORTS


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"{where} must be an object, not {type(value).__name__}."
        raise McpConfigError(msg)
    return value


def _strings(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    items = _mapping(value, where)
    if not all(isinstance(key, str) and isinstance(item, str) for key, item in items.items()):
        msg = f"{where} must map strings to strings."
        raise McpConfigError(msg)
    return dict(items)


def _merge_headers(*layers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Later layers win; header names compare case-insensitively (the later spelling is kept)."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return tuple(sorted(merged.values()))
