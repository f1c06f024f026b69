"""Agent cards: both paths, graph and agent level, read by the a2a-sdk resolver; auth, 404s and caching."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from a2a.client import A2ACardResolver
from a2a.compat.v0_3 import types as types_v03

from inkeep_runtime import Settings
from inkeep_runtime.store.engine import Store
from tests.a2a.serving import GRAPH_PATH, served
from tests.fakes.fake_llm import FakeLLM
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import agent, mcp_tool


@pytest.fixture
def backend() -> str:
    """Cards read definitions only: SQLite is enough."""
    return "sqlite"


@pytest.mark.parametrize("name", ["agent.json", "agent-card.json"])
async def test_graph_card_is_a_hybrid_0_3_and_1_0_card(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, name: str
) -> None:
    async with served(store, tmp_path, fake_llm) as server:
        response = await server.http.get(f"{GRAPH_PATH}/.well-known/{name}")
    assert response.status_code == 200, response.text
    card = response.json()
    rpc_url = f"{server.base}{GRAPH_PATH}/a2a"
    assert card["name"] == "Test graph"
    assert card["url"] == rpc_url
    assert card["protocolVersion"] == "0.3.0"
    assert card["preferredTransport"] == "JSONRPC"
    assert card["supportedInterfaces"] == [
        {"url": rpc_url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        {"url": rpc_url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
    ]
    assert card["capabilities"]["streaming"] is True
    assert card["defaultInputModes"] == card["defaultOutputModes"] == ["text/plain", "application/json"]
    assert [(s["id"], s["name"], s["tags"]) for s in card["skills"]] == [
        ("router", "Router", ["agent", "default"]),
        ("helper", "Helper", ["agent"]),
    ]
    assert card["securitySchemes"]["apiKey"]["type"] == "http"
    assert card["security"] == [{"apiKey": []}]
    assert card["securityRequirements"] == [{"schemes": {"apiKey": {"list": []}}}]
    assert response.headers["cache-control"] == "private, max-age=60"
    legacy = types_v03.AgentCard.model_validate(card)  # what an A2A 0.3 client (pydantic models) reads
    assert legacy.url == rpc_url
    assert legacy.security_schemes is not None
    assert legacy.security_schemes["apiKey"].root.type == "http"


async def test_sdk_resolver_reads_graph_and_agent_cards(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    async with served(store, tmp_path, fake_llm) as server:
        graph_card = await A2ACardResolver(server.http, f"{server.base}{GRAPH_PATH}").get_agent_card()
        agent_card = await A2ACardResolver(server.http, f"{server.base}{GRAPH_PATH}/helper").get_agent_card()
    assert graph_card.capabilities.streaming
    assert [(i.protocol_version, i.url) for i in graph_card.supported_interfaces] == [
        ("1.0", f"{server.base}{GRAPH_PATH}/a2a"),
        ("0.3", f"{server.base}{GRAPH_PATH}/a2a"),
    ]
    assert graph_card.security_schemes["apiKey"].http_auth_security_scheme.scheme.lower() == "bearer"
    assert agent_card.name == "Helper"
    assert agent_card.description == "The helper agent."
    assert agent_card.supported_interfaces[0].url == f"{server.base}{GRAPH_PATH}/helper/a2a"


async def test_agent_card_lists_the_agents_tools_as_skills(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [agent("calc", tools=["tools"])]
    async with served(store, tmp_path, fake_llm, agents=agents, tools={"tools": mcp_tool(fake_mcp.url)}) as server:
        response = await server.http.get(f"{GRAPH_PATH}/calc/.well-known/agent-card.json")
    assert response.status_code == 200, response.text
    skills = response.json()["skills"]
    assert skills[0] == {
        "id": "calc",
        "name": "Calc",
        "description": "The calc agent.",
        "tags": ["agent", "default", "tools"],
    }
    assert {s["id"] for s in skills[1:]} <= {"tools"} | {f"tools.{name}" for name in ("echo", "add", "slow", "fail")}
    assert len(skills) >= 2


async def test_cards_need_an_api_key_of_the_graph(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    async with served(store, tmp_path, fake_llm) as server:
        anonymous = await server.http.get(f"{GRAPH_PATH}/.well-known/agent-card.json", headers={"Authorization": ""})
        wrong = await server.http.get(
            "/tenants/t1/projects/p1/agents/other/.well-known/agent-card.json"  # the key is g's
        )
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert wrong.status_code == 401


async def test_unknown_agent_and_graph_are_404_problems(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    async with served(store, tmp_path, fake_llm) as server:
        agent_card = await server.http.get(f"{GRAPH_PATH}/nobody/.well-known/agent.json")
        rpc = await server.http.post(f"{GRAPH_PATH}/nobody/a2a", json={})
    assert agent_card.status_code == 404
    assert agent_card.json()["detail"] == "Graph 'g' has no agent 'nobody'."
    assert rpc.status_code == 404
    dev = Settings(dev=True)
    async with served(store, tmp_path, fake_llm, settings=dev) as server:
        graph_card = await server.http.get("/tenants/t1/projects/p1/agents/missing/.well-known/agent-card.json")
        card = await server.http.get(f"{GRAPH_PATH}/.well-known/agent-card.json")
    assert graph_card.status_code == 404
    assert graph_card.headers["content-type"] == "application/problem+json"
    assert "missing" in graph_card.json()["detail"]
    assert card.status_code == 200
    assert "securitySchemes" not in card.json()  # --dev: no key needed, none declared


async def test_card_etag_answers_if_none_match_with_304(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    async with served(store, tmp_path, fake_llm) as server:
        first = await server.http.get(f"{GRAPH_PATH}/.well-known/agent-card.json")
        again = await server.http.get(
            f"{GRAPH_PATH}/.well-known/agent-card.json", headers={"If-None-Match": first.headers["etag"]}
        )
    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]


async def test_card_url_follows_the_request_host(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    async with served(store, tmp_path, fake_llm) as server:
        transport = httpx.AsyncHTTPTransport()
        async with httpx.AsyncClient(transport=transport, headers=server.http.headers) as http:
            response = await http.get(
                f"{server.base}{GRAPH_PATH}/.well-known/agent.json", headers={"Host": "agents.example.com"}
            )
    assert response.json()["url"] == f"http://agents.example.com{GRAPH_PATH}/a2a"
