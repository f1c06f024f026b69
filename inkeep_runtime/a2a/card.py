"""Agent cards: how A2A peers discover a graph (or one agent of it) and where to send JSON-RPC.

Paths (Inkeep's documented `agent.json`, and A2A 0.3+/1.0's `agent-card.json`, which is the only one the
current `a2a-sdk` resolver fetches, relative to the base `.../agents/{graphId}`):

* `GET /tenants/{t}/projects/{p}/agents/{graphId}/.well-known/agent.json` (and `agent-card.json`):
  the graph, entering at its default agent; JSON-RPC at `.../agents/{graphId}/a2a`.
* `GET .../agents/{graphId}/{agentId}/.well-known/agent.json` (and `agent-card.json`): one agent,
  which answers first (transfers may still hand over); JSON-RPC at `.../agents/{graphId}/{agentId}/a2a`.

**One hybrid card serves both client generations** (reference/protocols.md §C.3, as the a2a-sdk server
does): the 1.0 `supportedInterfaces` list (a `1.0` and a `0.3` JSON-RPC entry for the same URL, 1.0
first, so 1.x clients pick it) plus the 0.3 top-level `url`, `protocolVersion: "0.3.0"` and
`preferredTransport`. Security is declared both ways: 0.3 `securitySchemes`/`security` in OpenAPI style
and the 1.0 `httpAuthSecurityScheme`/`securityRequirements` (omitted in `--dev`, where no key is needed).
`url` is absolute, built from the request's base URL (so it is right behind a proxy that sets the
forwarded headers uvicorn trusts).

Skills: the graph card has one skill per agent, the entry agent first (tags: `agent`, `default` for the
entry agent, and the ids of its tool servers); an agent's card has a skill for the agent and one per MCP
tool it may use (from the last tool sync; a never-synced server is one skill named after the server).

**Cards need the graph's API key**, like the run routes (`--dev` skips the check). The original
framework serves them publicly, and A2A allows public cards, but a card lists the graph's agents, their
descriptions and their tools: a demanding operator running several tenants on one server does not want
that readable by anyone who can guess a URL, and "auth on by default" is this runtime's rule. A2A
clients send headers when resolving cards (the a2a-sdk resolver uses the caller's `httpx` client; our
external-agent client sends the record's headers), so this costs peers nothing. A card also carries an
`ETag` and `Cache-Control: private, max-age=60`, and answers `If-None-Match` with 304.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from inkeep_runtime.a2a.params import OUTPUT_MODES
from inkeep_runtime.graph.definition import AgentDefinition, GraphDefinition

__all__ = ["CARD_CACHE_CONTROL", "build_card", "card_etag"]

CARD_CACHE_CONTROL: Final = "private, max-age=60"
_SCHEME: Final = "apiKey"
_SCHEME_DESCRIPTION: Final = "An API key of this graph, sent as `Authorization: Bearer <key>`."


def _tool_tags(agent: AgentDefinition) -> list[str]:
    return [binding.tool_id for binding in agent.tools if not binding.is_disabled]


def _agent_skill(graph: GraphDefinition, agent: AgentDefinition) -> dict[str, Any]:
    tags = ["agent", *(["default"] if agent.id == graph.default_agent_id else []), *_tool_tags(agent)]
    return {
        "id": agent.id,
        "name": agent.name or agent.id,
        "description": agent.description or f"Agent '{agent.id}' of graph '{graph.name}'.",
        "tags": tags,
    }


def _tool_skills(agent: AgentDefinition) -> list[dict[str, Any]]:
    skills: list[dict[str, Any]] = []
    for binding in agent.tools:
        if binding.is_disabled:
            continue
        if binding.cached_tools is None:
            description = f"Tools of the MCP server '{binding.name}'."
            skills.append({"id": binding.tool_id, "name": binding.name, "description": description, "tags": ["tool"]})
            continue
        for tool in binding.cached_tools:
            if binding.allows(tool.name):
                skills.append(
                    {
                        "id": f"{binding.tool_id}.{tool.name}",
                        "name": tool.name,
                        "description": tool.description or f"The '{tool.name}' tool of '{binding.name}'.",
                        "tags": ["tool", binding.tool_id],
                    }
                )
    return skills


def _security(card: dict[str, Any]) -> None:
    scheme = {
        # 0.3 (OpenAPI style) ...
        "type": "http",
        "scheme": "bearer",
        "description": _SCHEME_DESCRIPTION,
        # ... and 1.0 (ProtoJSON oneof); each generation ignores the other's members.
        "httpAuthSecurityScheme": {"scheme": "Bearer", "description": _SCHEME_DESCRIPTION},
    }
    card["securitySchemes"] = {_SCHEME: scheme}
    card["security"] = [{_SCHEME: []}]
    card["securityRequirements"] = [{"schemes": {_SCHEME: {"list": []}}}]


def build_card(
    graph: GraphDefinition, agent: AgentDefinition | None, *, rpc_url: str, version: str, is_auth_required: bool
) -> dict[str, Any]:
    """The card of `graph` (entering at its default agent), or of its `agent`."""
    if agent is None:
        entry = graph.agents[graph.default_agent_id]
        name = graph.name or graph.id
        description = f"Agent graph '{name}'; {entry.name or entry.id} answers first. {entry.description}".strip()
        ordered = sorted(graph.agents.values(), key=lambda a: (a.id != graph.default_agent_id, a.id))
        skills = [_agent_skill(graph, a) for a in ordered]
    else:
        name = agent.name or agent.id
        description = agent.description or f"Agent '{agent.id}' of graph '{graph.name or graph.id}'."
        skills = [_agent_skill(graph, agent), *_tool_skills(agent)]
    card: dict[str, Any] = {
        "name": name,
        "description": description,
        "version": version,
        "supportedInterfaces": [
            {"url": rpc_url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": rpc_url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        "url": rpc_url,
        "protocolVersion": "0.3.0",
        "preferredTransport": "JSONRPC",
        "capabilities": {"streaming": True, "pushNotifications": False, "stateTransitionHistory": False},
        "defaultInputModes": list(OUTPUT_MODES),
        "defaultOutputModes": list(OUTPUT_MODES),
        "skills": skills,
    }
    if is_auth_required:
        _security(card)
    return card


def card_etag(card: dict[str, Any]) -> str:
    """A strong ETag of the card's canonical JSON."""
    canonical = json.dumps(card, sort_keys=True, separators=(",", ":")).encode()
    return '"' + hashlib.sha256(canonical).hexdigest()[:32] + '"'
