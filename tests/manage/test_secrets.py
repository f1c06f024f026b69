"""Secrets in definitions are write-only: responses redact them and a GET → PUT round trip keeps them."""

from __future__ import annotations

import httpx
import pytest

from inkeep_runtime.secrets import REDACTED, redact, restore
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope

pytestmark = pytest.mark.usefixtures("backend")

TOOL = {
    "id": "crm",
    "name": "CRM",
    "config": {"type": "mcp", "mcp": {"server": {"url": "http://127.0.0.1:9/mcp", "headers": {"X-Api-Key": "k-1"}}}},
    "headers": {"Authorization": "Bearer s3cret", "X-Trace": "on"},
}


def test_redact_hides_secret_values_but_not_templates_or_settings() -> None:
    value = {
        "providerOptions": {"api_key": "sk-live", "temperature": 0.2, "max_tokens": 10},
        "headers": {"Authorization": "Bearer {{requestContext.token}}", "Cookie": "a=b"},
    }
    assert redact(value) == {
        "providerOptions": {"api_key": REDACTED, "temperature": 0.2, "max_tokens": 10},
        "headers": {"Authorization": "Bearer {{requestContext.token}}", "Cookie": REDACTED},
    }


def test_restore_puts_stored_values_back_and_drops_unknown_placeholders() -> None:
    old = {"headers": {"Authorization": "Bearer x"}}
    new = {"headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED, "X-Other": "y"}}
    assert restore(new, old) == {"headers": {"Authorization": "Bearer x", "X-Other": "y"}}


async def test_tool_secrets_are_never_returned(client: httpx.AsyncClient, project: str) -> None:
    created = await client.post(f"{project}/tools", json=TOOL)
    listed = await client.get(f"{project}/tools")
    fetched = await client.get(f"{project}/tools/crm")
    for body in (created.text, listed.text, fetched.text):
        assert "s3cret" not in body
        assert "k-1" not in body
    data = fetched.json()["data"]
    assert data["headers"] == {"Authorization": REDACTED, "X-Trace": "on"}


async def test_put_of_a_fetched_tool_keeps_its_secrets(client: httpx.AsyncClient, project: str, store: Store) -> None:
    await client.post(f"{project}/tools", json=TOOL)
    fetched = (await client.get(f"{project}/tools/crm")).json()["data"]
    body = {key: fetched[key] for key in ("name", "config", "headers")}
    body["name"] = "CRM (renamed)"
    assert (await client.put(f"{project}/tools/crm", json=body)).status_code == 200
    async with store.read() as session:
        row = await Rows(session).get("tools", Scope("t1", "p1"), "crm")
    assert row is not None
    assert row["headers"]["Authorization"] == "Bearer s3cret"
    assert row["config"]["mcp"]["server"]["headers"]["X-Api-Key"] == "k-1"
    assert row["name"] == "CRM (renamed)"


async def test_full_graph_round_trip_keeps_the_provider_key(
    client: httpx.AsyncClient, project: str, store: Store
) -> None:
    document = {
        "id": "g",
        "name": "G",
        "defaultAgentId": "a",
        "modelSettings": {
            "model": "openai/gpt-4o-mini",
            "providerOptions": {"api_key": "sk-provider", "temperature": 0},
        },
        "agents": {"a": {"id": "a", "name": "A", "description": "", "instructions": "Help."}},
        "tools": {},
    }
    created = await client.put(f"{project}/graph/g", json=document)
    assert "sk-provider" not in created.text
    fetched = (await client.get(f"{project}/graph/g")).json()["data"]
    assert fetched["modelSettings"]["providerOptions"] == {"api_key": REDACTED, "temperature": 0}
    assert (await client.put(f"{project}/graph/g", json=fetched)).status_code == 200
    async with store.read() as session:
        row = await Rows(session).get("agent_graphs", Scope("t1", "p1"), "g")
    assert row is not None
    assert row["model_settings"]["providerOptions"]["api_key"] == "sk-provider"
