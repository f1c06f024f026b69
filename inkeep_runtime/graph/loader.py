"""Build runnable graph definitions from the store, with a cache invalidated on writes.

The cache is keyed by (tenant, project, graph) and stamped with the per-scope definitions version
that every CRUD write bumps in this process. Other processes sharing the database (PostgreSQL
deployments) see changes after `ttl_s` at the latest.

With a `CredentialResolver`, tools and external agents that name a credential reference get its
headers merged over their own (credential headers win). A reference that cannot be resolved leaves
its tools and external agents out of the definition, with a warning that never includes the secret,
so the graph still runs without them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from inkeep_runtime.credentials import CredentialError, CredentialResolver
from inkeep_runtime.errors import GraphDefinitionError, NotFound
from inkeep_runtime.graph.definition import AgentDefinition, ExternalAgentDefinition, GraphDefinition, McpBinding
from inkeep_runtime.mcp import McpConfigError, McpToolInfo, spec_from_config
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope

__all__ = ["GraphLoader"]

logger = logging.getLogger(__name__)

_CredentialHeaders = Mapping[str, dict[str, str] | None]
"""Headers of each credential reference the graph uses; None when it could not be resolved."""


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
        credentials: CredentialResolver | None = None,
    ) -> None:
        self._store = store
        self._version_of = version_of
        self._tool_timeout_s = tool_timeout_s
        self._ttl_s = ttl_s
        self._clock = clock
        self._credentials = credentials
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
            references = await self._references(rows, scope, [*tools.values(), *externals])
        secrets = await self._credential_headers(references)
        externals = [row for row in externals if self._has_credentials(row, secrets, "External agent")]
        kept = {row["id"] for row in externals}
        relations = [r for r in relations if not r["external_agent_id"] or r["external_agent_id"] in kept]
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
                agent_id: self._agent(row, relations, links, tools, secrets)
                for agent_id, row in sorted(agent_rows.items())
            },
            external_agents={
                row["id"]: ExternalAgentDefinition(
                    id=row["id"],
                    name=row["name"],
                    description=row["description"],
                    base_url=row["base_url"],
                    headers=self._headers(row, secrets),
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
        secrets: _CredentialHeaders,
    ) -> AgentDefinition:
        mine = [r for r in relations if r["source_agent_id"] == row["id"]]

        def targets(kind: str) -> tuple[str, ...]:
            found = [r["target_agent_id"] or r["external_agent_id"] for r in mine if r["relation_type"] == kind]
            return tuple(dict.fromkeys(found))

        bindings = [
            self._binding(tools[link["tool_id"]], link, secrets)
            for link in links
            if link["agent_id"] == row["id"]
            and link["tool_id"] in tools
            and self._has_credentials(tools[link["tool_id"]], secrets, "Tool")
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

    async def _references(self, rows: Rows, scope: Scope, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The credential reference rows named by `users` (none without a resolver: nothing would use them)."""
        ids = sorted({row["credential_reference_id"] for row in users if row["credential_reference_id"]})
        if not ids or self._credentials is None:
            return []
        return await rows.find("credential_references", scope, id=ids)

    async def _credential_headers(self, references: list[dict[str, Any]]) -> _CredentialHeaders:
        """Resolve each reference once per build; failures are logged by reference id and detail only."""
        found: dict[str, dict[str, str] | None] = {}
        if self._credentials is None:
            return found
        for reference in references:
            try:
                found[reference["id"]] = await self._credentials.headers_for(reference)
            except CredentialError as exc:
                logger.warning("%s The tools and external agents that use it are left out of the graph.", exc.detail)
                found[reference["id"]] = None
        return found

    def _has_credentials(self, row: dict[str, Any], secrets: _CredentialHeaders, label: str) -> bool:
        """False when `row` names a credential reference that could not be resolved (or does not exist)."""
        ref_id = row["credential_reference_id"]
        if self._credentials is None or not ref_id or secrets.get(ref_id) is not None:
            return True
        logger.warning("%s '%s' is unavailable: its credential '%s' could not be resolved.", label, row["id"], ref_id)
        return False

    def _headers(self, row: dict[str, Any], secrets: _CredentialHeaders) -> dict[str, str]:
        """The row's own headers with its credential's headers merged over them (names compare case-insensitively)."""
        ref_id = row["credential_reference_id"]
        extra = (secrets.get(ref_id) or {}) if ref_id else {}
        names = {name.lower() for name in extra}
        return {**{k: v for k, v in (row["headers"] or {}).items() if k.lower() not in names}, **extra}

    def _binding(self, tool: dict[str, Any], link: dict[str, Any], secrets: _CredentialHeaders) -> McpBinding | None:
        try:
            spec = spec_from_config(
                tool["config"], self._headers(tool, secrets), default_timeout_s=self._tool_timeout_s
            )
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
