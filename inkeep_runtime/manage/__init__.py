"""The CRUD (manage) API: one module per resource family, all talking to the store only."""

from __future__ import annotations

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage import (
    agents,
    analytics,
    api_keys,
    associations,
    components,
    context,
    credentials,
    external_agents,
    full_graph,
    graphs,
    oauth,
    projects,
    query_logs,
    related,
    relations,
    tool_approvals,
    tool_health,
    tool_permissions,
    tool_relations,
    tool_status,
    tools,
)

__all__ = ["manage_endpoints"]


def manage_endpoints() -> list[Endpoint]:
    """Every CRUD endpoint, in the order of the API document."""
    found: list[Endpoint] = []
    for module in (
        projects,
        agents,
        relations,
        graphs,
        related,
        tool_relations,
        components,
        associations,
        context,
        credentials,
        external_agents,
        tool_status,  # before `tools`: its path would otherwise match GET .../tools/{id}
        tools,
        tool_health,
        oauth,
        tool_permissions,
        tool_approvals,
        api_keys,
        full_graph,
        analytics,
        query_logs,
    ):
        found.extend(module.endpoints())
    return found
