"""Put tool permissions and operator-written tool context into a runnable graph.

The loader reads `ToolPolicies` in the same snapshot as the rest of the graph and calls
`apply_tool_policies`; each agent's `McpBinding`s then carry their modes, the project default and the added
context, so the catalog (`relations.build_catalog`) and the turn decide from the frozen definition alone.
Permission writes bump the definitions version, so the loader's cache never serves stale modes in this
process (other processes see them within the loader's TTL).
"""

from __future__ import annotations

from dataclasses import replace

from inkeep_runtime.graph.definition import AgentDefinition, GraphDefinition, McpBinding
from inkeep_runtime.store.permissions import ToolPolicies

__all__ = ["apply_tool_policies"]


def _binding(binding: McpBinding, agent_id: str, policies: ToolPolicies) -> McpBinding:
    modes = {
        name: mode
        for (agent, tool, name), mode in policies.modes.items()
        if (agent, tool) == (agent_id, binding.tool_id)
    }
    added = {name: text for (tool, name), text in policies.added_context.items() if tool == binding.tool_id}
    return replace(binding, modes=modes, default_mode=policies.default_mode, added_context=added)


def _agent(agent: AgentDefinition, policies: ToolPolicies) -> AgentDefinition:
    if not agent.tools:
        return agent
    return replace(agent, tools=tuple(_binding(b, agent.id, policies) for b in agent.tools))


def apply_tool_policies(graph: GraphDefinition, policies: ToolPolicies) -> GraphDefinition:
    """`graph` with every agent's tool bindings carrying their permissions and added context."""
    return replace(graph, agents={agent_id: _agent(agent, policies) for agent_id, agent in graph.agents.items()})
