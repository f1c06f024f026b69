"""Nango: one request per connection however many callers, and Nango-hosted MCP servers get Nango's headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from inkeep_runtime.credentials import CredentialError, CredentialResolver
from inkeep_runtime.graph.loader import GraphLoader
from inkeep_runtime.mcp import McpPool
from inkeep_runtime.store.engine import Store
from tests.fakes.servers import serve
from tests.fakes_mcp.fake_mcp import build_server
from tests.graph.harness import SCOPE, agent, graph_doc, mcp_tool, push
from tests.test_credentials import NANGO_KEY, TOKEN, FakeNango, ref


class SlowNango(FakeNango):
    """Answers after a pause, so concurrent lookups overlap."""

    async def connection(self, request: Request) -> JSONResponse:
        await anyio.sleep(0.05)
        return await super().connection(request)


@asynccontextmanager
async def nango_with_mcp(fake: FakeNango) -> AsyncIterator[str]:
    """Nango's REST API and a Nango-hosted MCP server (`/mcp`, tool `headers`) on one origin."""
    server = build_server()
    mcp_app = server.streamable_http_app()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    app = Starlette(
        routes=[Route("/connection/{connection_id}", fake.connection), Mount("/", app=mcp_app)], lifespan=lifespan
    )
    async with serve(app, grace_s=1) as base_url:
        yield base_url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def resolver(http: httpx.AsyncClient, base_url: str) -> CredentialResolver:
    return CredentialResolver(http=http, nango_base_url=base_url, nango_secret_key=NANGO_KEY)


async def test_concurrent_lookups_of_one_connection_send_one_request(http: httpx.AsyncClient) -> None:
    fake = SlowNango()
    fake.connections["c", "p"] = {"access_token": TOKEN}
    async with serve(fake.app()) as base_url:
        resolving = resolver(http, base_url)
        found: list[str] = []

        async def resolve(ref_id: str) -> None:
            found.append(await resolving.resolve(ref("nango", ref_id, connectionId="c", providerConfigKey="p")))

        async with anyio.create_task_group() as group:
            for index in range(8):
                group.start_soon(resolve, f"cred-{index % 2}")  # two references, one connection
    assert found == [TOKEN] * 8
    assert fake.calls == 1
    assert resolving.nango_requests == 1


async def test_resolved_headers_say_until_when_they_are_valid(http: httpx.AsyncClient) -> None:
    fake = FakeNango()
    fake.connections["c", "p"] = {"access_token": TOKEN}
    async with serve(fake.app()) as base_url:
        resolving = CredentialResolver(
            http=http, nango_base_url=base_url, nango_secret_key=NANGO_KEY, ttl_s=30, clock=lambda: 1_000.0
        )
        resolved = await resolving.credential_headers(ref("nango", connectionId="c", providerConfigKey="p"))
    assert resolved.headers == {"Authorization": f"Bearer {TOKEN}"}
    assert resolved.valid_until == 1_030.0
    assert TOKEN not in repr(resolved)
    env = await CredentialResolver(environment={"K": "v"}).credential_headers(ref("env", key="K"))
    assert env.valid_until is None


@pytest.mark.parametrize(
    ("url", "is_hosted"),
    [
        ("https://api.nango.dev/mcp", True),
        ("https://eu.nango.dev/mcp", True),
        ("https://nango.dev.example.com/mcp", False),
        ("http://127.0.0.1:7000/mcp", True),
        ("http://127.0.0.1:7001/mcp", False),
        ("http://127.0.0.1:7000", False),
    ],
)
def test_nango_hosted_servers_are_recognised(url: str, *, is_hosted: bool) -> None:
    assert CredentialResolver(nango_base_url="http://127.0.0.1:7000").is_nango_hosted(url) is is_hosted


async def test_nango_hosted_mcp_gets_the_secret_key_and_connection_headers(http: httpx.AsyncClient) -> None:
    fake = FakeNango()
    fake.connections["conn-1", "github"] = {"access_token": TOKEN}
    async with serve(fake.app()) as base_url:
        reference = ref("nango", connectionId="conn-1", providerConfigKey="github")
        headers = await resolver(http, base_url).headers_for(reference, target_url=f"{base_url}/mcp")
        elsewhere = await resolver(http, base_url).headers_for(reference, target_url="http://127.0.0.1:1/mcp")
    assert headers == {
        "Authorization": f"Bearer {NANGO_KEY}",
        "provider-config-key": "github",
        "connection-id": "conn-1",
    }
    assert elsewhere == {"Authorization": f"Bearer {TOKEN}"}
    assert fake.calls == 2  # the connection was checked to exist (once per resolver: each has its own cache)


async def test_nango_hosted_mcp_with_an_unknown_connection_is_refused(http: httpx.AsyncClient) -> None:
    async with serve(FakeNango().app()) as base_url:
        reference = ref("nango", "gh", connectionId="nope", providerConfigKey="github")
        with pytest.raises(CredentialError) as failure:
            await resolver(http, base_url).headers_for(reference, target_url=f"{base_url}/mcp")
    assert (
        failure.value.detail
        == "Nango connection 'nope' (provider 'github') for credential 'gh': Nango answered HTTP 404."
    )
    assert NANGO_KEY not in failure.value.detail


async def test_graph_tools_on_nango_hosted_mcp_send_nango_headers(
    store: Store, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    fake = FakeNango()
    fake.connections["conn-1", "slack"] = {"access_token": TOKEN}
    async with nango_with_mcp(fake) as base_url:
        document = graph_doc(
            "http://127.0.0.1:1/v1",
            [agent("a", tools=["nango", "plain"])],
            tools={
                "nango": {**mcp_tool(f"{base_url}/mcp", "nango"), "credentialReferenceId": "slack"},
                "plain": {**mcp_tool("http://127.0.0.1:1/mcp", "plain"), "credentialReferenceId": "slack"},
            },
            credentialReferences=[
                {
                    "id": "slack",
                    "type": "nango",
                    "credentialStoreId": "nango-default",
                    "retrievalParams": {"connectionId": "conn-1", "providerConfigKey": "slack"},
                }
            ],
        )
        await push(store, tmp_path, document)
        loader = GraphLoader(store, version_of=lambda _key: 0, credentials=resolver(http, base_url))
        graph = await loader.load(SCOPE, "g")
        bindings = {binding.tool_id: binding for binding in graph.agents["a"].tools}
        assert dict(bindings["plain"].spec.headers) == {"Authorization": f"Bearer {TOKEN}"}
        async with McpPool() as pool:
            result = await pool.call_tool(bindings["nango"].spec, "headers", {})
    seen: dict[str, Any] = json.loads(result.content_text)
    assert (seen["authorization"], seen["provider-config-key"], seen["connection-id"]) == (
        f"Bearer {NANGO_KEY}",
        "slack",
        "conn-1",
    )
    assert fake.calls == 1


async def test_graph_cache_ends_when_its_credentials_expire(
    store: Store, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    fake = FakeNango()
    fake.connections["c", "p"] = {"access_token": TOKEN}
    async with serve(fake.app()) as base_url:
        document = graph_doc(
            "http://127.0.0.1:1/v1",
            [agent("a", tools=["plain"])],
            tools={"plain": {**mcp_tool("http://127.0.0.1:1/mcp", "plain"), "credentialReferenceId": "n"}},
            credentialReferences=[
                {
                    "id": "n",
                    "type": "nango",
                    "credentialStoreId": "nango-default",
                    "retrievalParams": {"connectionId": "c", "providerConfigKey": "p"},
                }
            ],
        )
        await push(store, tmp_path, document)
        resolving = CredentialResolver(http=http, nango_base_url=base_url, nango_secret_key=NANGO_KEY, ttl_s=0.5)
        loader = GraphLoader(store, version_of=lambda _key: 0, credentials=resolving, ttl_s=60)
        first = await loader.load(SCOPE, "g")
        assert await loader.load(SCOPE, "g") is first
        await anyio.sleep(0.6)  # the token's cache lifetime, not the graph's 60 s, ends the entry
        fake.connections["c", "p"] = {"access_token": "rotated-token"}
        again = await loader.load(SCOPE, "g")
    assert again is not first
    assert dict(again.agents["a"].tools[0].spec.headers) == {"Authorization": "Bearer rotated-token"}
    assert fake.calls == 2
