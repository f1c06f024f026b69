"""Build runnable graph definitions from the store, with a cache invalidated on writes.

The cache is keyed by (tenant, project, graph) and stamped with the per-scope definitions version
that every CRUD write bumps in this process. Other processes sharing the database (PostgreSQL
deployments) see changes after `ttl_s` at the latest.

With a `CredentialResolver`, tools and external agents that name a credential reference get its
headers merged over their own (credential headers win). A reference that cannot be resolved leaves
its tools and external agents out of the definition, with a warning that never includes the secret,
so the graph still runs without them. A cache entry also ends when the first of its resolved credentials
does (an OAuth access token due for refresh, a Nango token), so a cached graph never sends a stale token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from inkeep_runtime.agent.status_config import status_config
from inkeep_runtime.context.config import load_context_config
from inkeep_runtime.credentials import CredentialError, CredentialResolver
from inkeep_runtime.errors import GraphDefinitionError, NotFound
from inkeep_runtime.graph.definition import (
    AgentDefinition,
    ArtifactComponentDefinition,
    DataComponentDefinition,
    ExternalAgentDefinition,
    GraphDefinition,
    McpBinding,
)
from inkeep_runtime.graph.tool_policies import apply_tool_policies
from inkeep_runtime.mcp import McpConfigError, McpToolInfo, spec_from_config
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.permissions import read_policies
from inkeep_runtime.store.rows import Rows, Scope

__all__ = ["GraphLoader"]

logger = logging.getLogger(__name__)

_CredentialHeaders = Mapping[tuple[str, str | None], dict[str, str] | None]
"""Headers of each (credential reference, Nango-hosted MCP URL or None) the graph uses; None when unresolvable."""


class _Secrets(dict[tuple[str, str | None], dict[str, str] | None]):
    """Resolved credential headers of one build, and when the first of them expires."""

    valid_until: float | None = None


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
        self._secrets_until: dict[tuple[str, str, str], float] = {}
        """Per graph: when the credentials of its last build expire (epoch seconds); the cache entry ends then."""

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
        expires = self._clock() + self._ttl_s
        secrets_until = self._secrets_until.pop(key, None)
        if secrets_until is not None:  # a token that expires sooner must not outlive its cache entry
            expires = min(expires, self._clock() + secrets_until - time.time())
        self._cache[key] = (version, expires, graph)
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
            components = await _components(rows, scope, sorted(agent_rows))
            policies = await read_policies(session, scope, agent_ids=sorted(agent_rows), tool_ids=tool_ids)
            context = await load_context_config(rows, scope, graph["context_config_id"])
        secrets = await self._credential_headers(references, [*tools.values(), *externals])
        if secrets.valid_until is not None:
            self._secrets_until[(scope.tenant_id, scope.project_id or "", graph_id)] = secrets.valid_until
        externals = [row for row in externals if self._has_credentials(row, secrets, "External agent")]
        kept = {row["id"] for row in externals}
        relations = [r for r in relations if not r["external_agent_id"] or r["external_agent_id"] in kept]
        default = graph["default_agent_id"]
        if not default or default not in agent_rows:
            msg = f"Graph '{graph_id}' has no default agent (defaultAgentId); set one before chatting with it."
            raise GraphDefinitionError(msg, pointer="/defaultAgentId")
        stop_when = graph["stop_when"] or {}
        definition = GraphDefinition(
            tenant_id=scope.tenant_id,
            project_id=scope.project_id or "",
            id=graph_id,
            name=graph["name"],
            default_agent_id=default,
            model_settings=graph["model_settings"] or {},
            transfer_limit=stop_when.get("transferCountIs"),
            step_limit=stop_when.get("stepCountIs"),
            context=context,
            status_updates=status_config(graph["status_updates"]),
            agents={
                agent_id: replace(self._agent(row, relations, links, tools, secrets), **components.get(agent_id, {}))
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
        return apply_tool_policies(definition, policies)

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

    async def _credential_headers(self, references: list[dict[str, Any]], users: list[dict[str, Any]]) -> _Secrets:
        """Resolve each reference once per build (once per Nango-hosted MCP URL, whose headers differ).

        Failures are logged by reference id and detail only.
        """
        found = _Secrets()
        if self._credentials is None:
            return found
        by_id = {reference["id"]: reference for reference in references}
        for row in users:
            key = self._credential_key(row)
            if key is None or key in found or key[0] not in by_id:
                continue
            try:
                resolved = await self._credentials.credential_headers(by_id[key[0]], target_url=key[1])
            except CredentialError as exc:
                logger.warning("%s The tools and external agents that use it are left out of the graph.", exc.detail)
                found[key] = None
                continue
            found[key] = resolved.headers
            if resolved.valid_until is not None:
                found.valid_until = min(found.valid_until or resolved.valid_until, resolved.valid_until)
        return found

    def _credential_key(self, row: dict[str, Any]) -> tuple[str, str | None] | None:
        """Which resolved headers `row` uses: its reference, and its MCP URL when Nango hosts that server."""
        ref_id = row["credential_reference_id"]
        if not ref_id:
            return None
        server = (((row.get("config") or {}).get("mcp") or {}).get("server") or {}) if "config" in row else {}
        url = server.get("url") if isinstance(server, dict) else None
        if self._credentials is not None and isinstance(url, str) and self._credentials.is_nango_hosted(url):
            return ref_id, url
        return ref_id, None

    def _has_credentials(self, row: dict[str, Any], secrets: _CredentialHeaders, label: str) -> bool:
        """False when `row` names a credential reference that could not be resolved (or does not exist)."""
        ref_id = row["credential_reference_id"]
        key = self._credential_key(row)
        if self._credentials is None or key is None or secrets.get(key) is not None:
            return True
        logger.warning("%s '%s' is unavailable: its credential '%s' could not be resolved.", label, row["id"], ref_id)
        return False

    def _headers(self, row: dict[str, Any], secrets: _CredentialHeaders) -> dict[str, str]:
        """The row's own headers with its credential's headers merged over them (names compare case-insensitively)."""
        key = self._credential_key(row)
        extra = (secrets.get(key) or {}) if key is not None else {}
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


async def _components(rows: Rows, scope: Scope, agent_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each agent's data and artifact components (`AgentDefinition` fields), in association order."""
    found: dict[str, dict[str, Any]] = {
        agent_id: {"data_components": [], "artifact_components": []} for agent_id in agent_ids
    }
    data_links = await rows.find("agent_data_components", scope, agent_id=agent_ids) if agent_ids else []
    artifact_links = await rows.find("agent_artifact_components", scope, agent_id=agent_ids) if agent_ids else []
    data_ids = sorted({link["data_component_id"] for link in data_links})
    artifact_ids = sorted({link["artifact_component_id"] for link in artifact_links})
    data = {row["id"]: row for row in await rows.find("data_components", scope, id=data_ids)} if data_ids else {}
    artifacts = (
        {row["id"]: row for row in await rows.find("artifact_components", scope, id=artifact_ids)}
        if artifact_ids
        else {}
    )
    for link in sorted(data_links, key=lambda link: (link["created_at"], link["id"])):
        row = data[link["data_component_id"]]
        found[link["agent_id"]]["data_components"].append(
            DataComponentDefinition(
                id=row["id"], name=row["name"], description=row["description"], props=row["props"] or {}
            )
        )
    for link in sorted(artifact_links, key=lambda link: (link["created_at"], link["id"])):
        row = artifacts[link["artifact_component_id"]]
        found[link["agent_id"]]["artifact_components"].append(
            ArtifactComponentDefinition(
                id=row["id"],
                name=row["name"],
                description=row["description"],
                summary_props=row["summary_props"] or {},
                full_props=row["full_props"] or {},
            )
        )
    return {
        agent_id: {key: tuple(values) for key, values in fields.items() if values} for agent_id, fields in found.items()
    }
