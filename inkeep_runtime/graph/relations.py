"""The tools an agent's model sees: its MCP tools plus `transfer_to_*` and `delegate_to_*`.

Names are sanitised to what every provider accepts (`^[a-zA-Z0-9_-]{1,64}$`). Collisions are resolved
deterministically: tools keep their names in a fixed order (transfers, delegations, then MCP tools in
relation order) and a later duplicate gets `_2`, `_3`, ... so the same graph always yields the same names.

Tool permissions (`graph/tool_policies.py`) shape the MCP part: a `disabled` tool is not offered, but
its name maps to a `DeniedTarget` so a call to it anyway is refused as `permission_denied`; an operator's
`addedContext` is appended to the tool's description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from inkeep_runtime.graph.definition import AgentDefinition, GraphDefinition, McpBinding
from inkeep_runtime.llm.messages import ToolSpec
from inkeep_runtime.mcp import McpToolInfo

__all__ = [
    "DelegateTarget",
    "DeniedTarget",
    "FeatureHandler",
    "FeatureTarget",
    "McpTarget",
    "ToolCatalog",
    "TransferTarget",
    "build_catalog",
    "sanitize_tool_name",
]

_UNSAFE: Final = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME: Final = 64


def sanitize_tool_name(name: str) -> str:
    """`name` with every character providers refuse replaced, cut to 64 characters."""
    return (_UNSAFE.sub("_", name) or "tool")[:_MAX_NAME]


@dataclass(frozen=True, slots=True)
class TransferTarget:
    """Calling this tool hands the turn to another agent."""

    agent_id: str
    is_external: bool = False


@dataclass(frozen=True, slots=True)
class DelegateTarget:
    """Calling this tool runs another agent to completion and returns its answer."""

    agent_id: str
    is_external: bool = False


@dataclass(frozen=True, slots=True)
class McpTarget:
    """Calling this tool calls `tool_name` on an MCP server."""

    binding: McpBinding
    tool_name: str


@dataclass(frozen=True, slots=True)
class DeniedTarget:
    """A tool the agent may not use (permission `disabled`): hidden from the model, refused if called by name."""

    binding: McpBinding
    tool_name: str


class FeatureHandler(Protocol):
    """Runs the in-process feature tools of one agent turn (artifacts: `agent/artifacts.py`)."""

    async def call(self, call_id: str, feature: str, arguments: dict[str, Any]) -> tuple[Any, bool]:
        """Run `feature`; return (output for the model, is_error)."""
        ...


@dataclass(frozen=True, slots=True)
class FeatureTarget:
    """Calling this tool runs a runtime feature in-process (saving or reading back an artifact)."""

    handler: FeatureHandler
    feature: str


Target = TransferTarget | DelegateTarget | McpTarget | DeniedTarget | FeatureTarget


@dataclass(frozen=True, slots=True)
class ToolCatalog:
    """The model-facing tool specs and what each name does."""

    specs: tuple[ToolSpec, ...]
    targets: dict[str, Target]


def _unique(name: str, taken: set[str]) -> str:
    candidate, index = sanitize_tool_name(name), 2
    while candidate in taken:
        suffix = f"_{index}"
        candidate = sanitize_tool_name(name)[: _MAX_NAME - len(suffix)] + suffix
        index += 1
    taken.add(candidate)
    return candidate


def build_catalog(
    graph: GraphDefinition, agent: AgentDefinition, mcp_tools: Iterable[tuple[McpBinding, McpToolInfo]]
) -> ToolCatalog:
    """The tools `agent` is offered, given the MCP tools its servers list."""
    specs: list[ToolSpec] = []
    targets: dict[str, Target] = {}
    taken: set[str] = set()
    for target_id in agent.transfers:
        name, description = graph.describe(target_id)
        tool = _unique(f"transfer_to_{target_id}", taken)
        specs.append(
            ToolSpec(
                name=tool,
                description=f"Hand the conversation to {name}: {description}".strip(": "),
                parameters={
                    "type": "object",
                    "properties": {"reason": {"type": "string", "description": "Why you are transferring."}},
                },
            )
        )
        targets[tool] = TransferTarget(target_id, is_external=target_id in graph.external_agents)
    for target_id in agent.delegations:
        name, description = graph.describe(target_id)
        tool = _unique(f"delegate_to_{target_id}", taken)
        specs.append(
            ToolSpec(
                name=tool,
                description=f"Ask {name} to do a task and get its answer back: {description}".strip(": "),
                parameters={
                    "type": "object",
                    "properties": {"message": {"type": "string", "description": "The task, fully self-contained."}},
                    "required": ["message"],
                },
            )
        )
        targets[tool] = DelegateTarget(target_id, is_external=target_id in graph.external_agents)
    denied: list[tuple[McpBinding, str]] = []
    for binding, info in mcp_tools:
        if binding.is_disabled or not binding.allows(info.name):
            continue
        if binding.mode_of(info.name) == "disabled":
            denied.append((binding, info.name))
            continue
        tool = _unique(info.name, taken)
        parameters = info.input_schema or {"type": "object", "properties": {}}
        description = info.description or ""
        if added := binding.added_context.get(info.name):  # operator-written context (caylex.md §4.4)
            description = f"{description}\n\n{added}".strip()
        specs.append(ToolSpec(name=tool, description=description, parameters=parameters))
        targets[tool] = McpTarget(binding, info.name)
    for binding, name in denied:  # not offered; named so a call by name is refused as permission_denied
        targets.setdefault(sanitize_tool_name(name), DeniedTarget(binding, name))
    return ToolCatalog(tuple(specs), targets)
