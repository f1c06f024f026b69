"""The loader merges resolved credential headers into MCP tool and external agent headers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from inkeep_runtime.credentials import CredentialResolver
from inkeep_runtime.graph.loader import GraphLoader
from inkeep_runtime.store.engine import Store
from tests.graph.harness import SCOPE, agent, graph_doc, mcp_tool, push

SECRET = "sk-live-very-secret-42"


def document(**tool_fields: Any) -> dict[str, Any]:
    """A graph whose router uses one MCP tool and may delegate to an external agent; both use credentials."""
    router = agent("router", tools=["tools"], canDelegateTo=["partner"])
    partner = {
        "id": "partner",
        "type": "external",
        "name": "Partner",
        "description": "A2A peer",
        "baseUrl": "http://127.0.0.1:1/a2a",
        "credentialReferenceId": "partner-key",
        "headers": {"X-Team": "support", "authorization": "Bearer stale"},
    }
    tool = {**mcp_tool("http://127.0.0.1:1/mcp"), "headers": {"X-Env": "test"}, **tool_fields}
    return graph_doc(
        "http://127.0.0.1:1/v1",
        [router, partner],
        tools={"tools": tool},
        credentialReferences=[
            {"id": "mcp-key", "type": "env", "credentialStoreId": "env", "retrievalParams": {"key": "MCP_TOKEN"}},
            {
                "id": "partner-key",
                "type": "memory",
                "credentialStoreId": "memory-default",
                "retrievalParams": {"key": "PARTNER", "header": "X-Api-Key"},
            },
        ],
    )


def loader(store: Store, resolver: CredentialResolver | None) -> GraphLoader:
    return GraphLoader(store, version_of=lambda _key: 0, credentials=resolver)


async def test_tool_credential_becomes_authorization_header(store: Store, tmp_path: Path) -> None:
    await push(store, tmp_path, document(credentialReferenceId="mcp-key"))
    resolver = CredentialResolver(environment={"MCP_TOKEN": SECRET}, values={"PARTNER": "p-key"})
    graph = await loader(store, resolver).load(SCOPE, "g")
    (binding,) = graph.agents["router"].tools
    assert dict(binding.spec.headers) == {"Authorization": f"Bearer {SECRET}", "X-Env": "test"}
    assert SECRET not in repr(graph)


async def test_credential_header_wins_over_tool_header(store: Store, tmp_path: Path) -> None:
    await push(store, tmp_path, document(credentialReferenceId="mcp-key", headers={"authorization": "Bearer old"}))
    resolver = CredentialResolver(environment={"MCP_TOKEN": SECRET}, values={"PARTNER": "p-key"})
    graph = await loader(store, resolver).load(SCOPE, "g")
    assert dict(graph.agents["router"].tools[0].spec.headers) == {"Authorization": f"Bearer {SECRET}"}


async def test_external_agent_headers_carry_its_credential(store: Store, tmp_path: Path) -> None:
    await push(store, tmp_path, document())
    graph = await loader(store, CredentialResolver(values={"PARTNER": "p-key"})).load(SCOPE, "g")
    assert dict(graph.external_agents["partner"].headers) == {
        "X-Team": "support",
        "authorization": "Bearer stale",
        "X-Api-Key": "p-key",
    }
    assert graph.agents["router"].delegations == ("partner",)


async def test_unresolvable_credential_drops_tool_and_logs_without_secrets(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await push(store, tmp_path, document(credentialReferenceId="mcp-key"))
    caplog.set_level(logging.DEBUG)
    resolver = CredentialResolver(environment={"UNRELATED": SECRET}, values={"PARTNER": SECRET})
    graph = await loader(store, resolver).load(SCOPE, "g")
    assert graph.agents["router"].tools == ()
    assert "partner" in graph.external_agents
    assert "Credential 'mcp-key' reads environment variable 'MCP_TOKEN', which is not set." in caplog.text
    assert "Tool 'tools' is unavailable" in caplog.text
    assert SECRET not in caplog.text


async def test_unresolvable_external_credential_drops_the_delegation(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await push(store, tmp_path, document())
    caplog.set_level(logging.WARNING)
    graph = await loader(store, CredentialResolver()).load(SCOPE, "g")
    assert graph.external_agents == {}
    assert graph.agents["router"].delegations == ()
    assert "External agent 'partner' is unavailable" in caplog.text


async def test_without_resolver_headers_are_used_as_stored(store: Store, tmp_path: Path) -> None:
    await push(store, tmp_path, document(credentialReferenceId="mcp-key"))
    graph = await loader(store, None).load(SCOPE, "g")
    assert dict(graph.agents["router"].tools[0].spec.headers) == {"X-Env": "test"}
    assert dict(graph.external_agents["partner"].headers) == {"X-Team": "support", "authorization": "Bearer stale"}
