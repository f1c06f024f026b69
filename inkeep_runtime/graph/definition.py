"""Frozen, runnable graph definitions (built from the store by `loader.py`).

Everything the executor needs to run a turn, resolved once: agents with their relations, tool
bindings with MCP server specs, and the graph's guards and model settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inkeep_runtime.agent.status_config import StatusUpdatesConfig
from inkeep_runtime.context.config import ContextConfigDefinition
from inkeep_runtime.mcp import McpServerSpec, McpToolInfo

__all__ = [
    "AgentDefinition",
    "ArtifactComponentDefinition",
    "DataComponentDefinition",
    "ExternalAgentDefinition",
    "GraphDefinition",
    "McpBinding",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class McpBinding:
    """One MCP tool server an agent may use, and which of its tools."""

    tool_id: str
    name: str
    spec: McpServerSpec
    selected_tools: frozenset[str] | None = None
    """The agent-tool relation's subset (None: all)."""
    active_tools: frozenset[str] | None = None
    """The tool record's `activeTools` (None: all)."""
    cached_tools: tuple[McpToolInfo, ...] | None = None
    """`availableTools` from the last sync, or None when never synced."""
    is_disabled: bool = False
    modes: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Explicit permission per tool name for this agent (`agent_tool_permissions`); see `mode_of`."""
    default_mode: str = "always_execute"
    """The project's default for tools without an explicit permission."""
    added_context: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Operator-written text appended to a tool's description, per tool name (`tool_overrides`)."""

    def mode_of(self, tool_name: str) -> str:
        """`always_execute`, `require_approval` or `disabled` for `tool_name`."""
        return self.modes.get(tool_name, self.default_mode)

    def allows(self, tool_name: str) -> bool:
        """Whether the agent may see and call `tool_name` of this server."""
        if self.selected_tools is not None and tool_name not in self.selected_tools:
            return False
        return self.active_tools is None or tool_name in self.active_tools


@dataclass(frozen=True, slots=True, kw_only=True)
class DataComponentDefinition:
    """A structured UI component an agent may answer with (`props` is its JSON Schema)."""

    id: str
    name: str
    description: str
    props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactComponentDefinition:
    """A kind of artifact an agent may save from tool results (JSON Schemas of the summary and full data)."""

    id: str
    name: str
    description: str
    summary_props: Mapping[str, Any] = field(default_factory=dict)
    full_props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentDefinition:
    """An internal agent, ready to run."""

    id: str
    name: str
    description: str
    instructions: str
    model_settings: Mapping[str, Any] = field(default_factory=dict)
    history: Mapping[str, Any] = field(default_factory=dict)
    """`conversationHistoryConfig`: mode full|scoped|none and limit."""
    step_limit: int | None = None
    transfers: tuple[str, ...] = ()
    """Agent ids (internal or external) this agent may transfer to."""
    delegations: tuple[str, ...] = ()
    """Agent ids (internal or external) this agent may delegate to."""
    tools: tuple[McpBinding, ...] = ()
    data_components: tuple[DataComponentDefinition, ...] = ()
    artifact_components: tuple[ArtifactComponentDefinition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalAgentDefinition:
    """An agent reached over A2A."""

    id: str
    name: str
    description: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphDefinition:
    """A runnable agent graph."""

    tenant_id: str
    project_id: str
    id: str
    name: str
    default_agent_id: str
    model_settings: Mapping[str, Any] = field(default_factory=dict)
    transfer_limit: int | None = None
    step_limit: int | None = None
    agents: Mapping[str, AgentDefinition] = field(default_factory=dict)
    external_agents: Mapping[str, ExternalAgentDefinition] = field(default_factory=dict)
    context: ContextConfigDefinition | None = None
    """The graph's context config (`contextConfigId`): request-context schema and fetched variables."""
    status_updates: StatusUpdatesConfig | None = None
    """`statusUpdates`: progress summaries during long turns (None: off)."""

    @property
    def has_artifact_components(self) -> bool:
        """Whether any agent may save artifacts (then every agent can read them back)."""
        return any(agent.artifact_components for agent in self.agents.values())

    def describe(self, agent_id: str) -> tuple[str, str]:
        """Name and description of any agent of the graph (internal or external)."""
        if agent_id in self.agents:
            agent = self.agents[agent_id]
            return agent.name, agent.description
        external = self.external_agents[agent_id]
        return external.name, external.description
