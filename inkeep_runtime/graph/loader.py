"""Build runnable graph definitions from the store, with a cache invalidated on writes.

The cache is keyed by (tenant, project, graph) and stamped with the per-scope definitions version
that every CRUD write bumps in this process. Other processes sharing the database (PostgreSQL
deployments) see changes after `ttl_s` at the latest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from inkeep_runtime.errors import GraphDefinitionError, NotFound
from inkeep_runtime.graph.definition import AgentDefinition, ExternalAgentDefinition, GraphDefinition, McpBinding
from inkeep_runtime.mcp import McpConfigError, McpToolInfo, spec_from_config
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope

__all__ = ["GraphLoader"]


class GraphLoader:
    """Loads `GraphDefinition`s."""

    def __init__(
        self,
        store: Store,
        *,
        version_of: Callable[[str], int],
        tool_timeout_s: float = 60.0,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._version_of = version_of
        self._tool_timeout_s = tool_timeout_s
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str, str], tuple[int, float, GraphDefinition]] = {}

    async def load(self, scope: Scope, graph_id: str) -> GraphDefinition:
        """The runnable graph, from the cache when still current.

        Raises:
            NotFound: no such graph in the project.
            GraphDefinitionError: the stored graph cannot run (e.g. it has no default agent).
        """
        key = (scope.tenant_id, scope.project_id or "", graph_id)
        version = self._version_of(scope.key)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version and cached[1] > self._clock():
            return cached[2]
        graph = await self._build(scope, graph_id)
        self._cache[key] = (version, self._clock() + self._ttl_s, graph)
        return graph

    async def _build(self, scope: Scope, graph_id: str) -> GraphDefinition:
        async with self._store.read() as session:
            rows = Rows(session)
            graph = await rows.get("agent_graphs", scope, graph_id)
            if graph is None:
                msg = f"Graph '{graph_id}' does not exist in project '{scope.project_id}'."
                raise NotFound(msg)
            relations = await rows.find("agent_relations", scope, graph_id=graph_id)
            agent_ids = {r["source_agent_id"] for r in relations} | {
                r["target_agent_id"] for r in relations if r["target_agent_id"]
            }
            if graph["default_agent_id"]:
                agent_ids.add(graph["default_agent_id"])
            owned = await rows.find("agents", scope, graph_id=graph_id)
            agent_rows = {row["id"]: row for row in owned}
            missing = agent_ids - set(agent_rows)
            if missing:
                agent_rows.update({row["id"]: row for row in await rows.find("agents", scope, id=sorted(missing))})
            external_ids = sorted({r["external_agent_id"] for r in relations if r["external_agent_id"]})
            externals = await rows.find("external_agents", scope, id=external_ids) if external_ids else []
            links = await rows.find("agent_tool_relations", scope, agent_id=sorted(agent_rows)) if agent_rows else []
            tool_ids = sorted({link["tool_id"] for link in links})
            tools = {row["id"]: row for row in await rows.find("tools", scope, id=tool_ids)} if tool_ids else {}
        default = graph["default_agent_id"]
        if not default or default not in agent_rows:
            msg = f"Graph '{graph_id}' has no default agent (defaultAgentId); set one before chatting with it."
            raise GraphDefinitionError(msg, pointer="/defaultAgentId")
        stop_when = graph["stop_when"] or {}
        return GraphDefinition(
            tenant_id=scope.tenant_id,
            project_id=scope.project_id or "",
            id=graph_id,
            name=graph["name"],
            default_agent_id=default,
            model_settings=graph["model_settings"] or {},
            transfer_limit=stop_when.get("transferCountIs"),
            step_limit=stop_when.get("stepCountIs"),
            agents={
                agent_id: self._agent(row, relations, links, tools) for agent_id, row in sorted(agent_rows.items())
            },
            external_agents={
                row["id"]: ExternalAgentDefinition(
                    id=row["id"],
                    name=row["name"],
                    description=row["description"],
                    base_url=row["base_url"],
                    headers=row["headers"] or {},
                )
                for row in externals
            },
        )

    def _agent(
        self,
        row: dict[str, Any],
        relations: list[dict[str, Any]],
        links: list[dict[str, Any]],
        tools: dict[str, dict[str, Any]],
    ) -> AgentDefinition:
        mine = [r for r in relations if r["source_agent_id"] == row["id"]]

        def targets(kind: str) -> tuple[str, ...]:
            found = [r["target_agent_id"] or r["external_agent_id"] for r in mine if r["relation_type"] == kind]
            return tuple(dict.fromkeys(found))

        bindings = [
            self._binding(tools[link["tool_id"]], link)
            for link in links
            if link["agent_id"] == row["id"] and link["tool_id"] in tools
        ]
        return AgentDefinition(
            id=row["id"],
            name=row["name"],
            description=row["description"],
            instructions=row["instructions"],
            model_settings=row["model_settings"] or {},
            history=row["conversation_history_config"] or {},
            step_limit=(row["stop_when"] or {}).get("stepCountIs"),
            transfers=targets("transfer"),
            delegations=targets("delegate"),
            tools=tuple(b for b in bindings if b is not None),
        )

    def _binding(self, tool: dict[str, Any], link: dict[str, Any]) -> McpBinding | None:
        try:
            spec = spec_from_config(tool["config"], tool["headers"], default_timeout_s=self._tool_timeout_s)
        except McpConfigError:
            return None  # the CRUD layer validates configs; a row that still cannot connect is skipped
        mcp = (tool["config"] or {}).get("mcp") or {}
        active = mcp.get("activeTools")
        cached = tool["available_tools"]
        return McpBinding(
            tool_id=tool["id"],
            name=tool["name"],
            spec=spec,
            selected_tools=frozenset(link["selected_tools"]) if link["selected_tools"] is not None else None,
            active_tools=frozenset(active) if active is not None else None,
            cached_tools=tuple(
                McpToolInfo(name=t["name"], description=t.get("description"), input_schema=t.get("inputSchema") or {})
                for t in cached
            )
            if cached is not None
            else None,
            is_disabled=tool["status"] == "disabled",
        )
