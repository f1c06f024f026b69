"""The CRUD (manage) API: one module per resource family, all talking to the store only."""

from __future__ import annotations

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage import (
    agents,
    api_keys,
    associations,
    components,
    context,
    credentials,
    external_agents,
    full_graph,
    graphs,
    projects,
    related,
    relations,
    tool_health,
    tool_relations,
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
        tools,
        tool_health,
        api_keys,
        full_graph,
    ):
        found.extend(module.endpoints())
    return found
