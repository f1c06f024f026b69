"""Fixtures of the OAuth tests: an app whose services the test can reach, and an OAuth-protected MCP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.app import Services
from inkeep_runtime.store.engine import Store
from tests.conftest import running_lifespan
from tests.fakes.fake_llm import FakeLLM
from tests.graph.harness import agent, graph_doc, mcp_tool, push
from tests.oauth.fake_oauth import OAuthMcpServer, serve_oauth_mcp

CRUD = "/tenants/t1/crud/projects/p1"
LOGIN = f"{CRUD}/tools/tools/oauth-login"


@dataclass(slots=True)
class Harness:
    """The app under test, its services, and the OAuth-protected MCP server."""

    client: httpx.AsyncClient
    services: Services
    server: OAuthMcpServer

    async def authorize(self, *, login_path: str = LOGIN) -> httpx.Response:
        """Start a login and let the authorization server answer; its response redirects back to us."""
        login = await self.client.get(login_path)
        assert login.status_code == 302, login.text
        async with httpx.AsyncClient() as browser:
            return await browser.get(login.headers["location"])

    async def callback(self, redirect: httpx.Response, **headers: str) -> httpx.Response:
        """Follow the authorization server's redirect to our callback, as the browser would."""
        assert redirect.status_code == 302, redirect.text
        location = urlsplit(redirect.headers["location"])
        assert f"{location.scheme}://{location.netloc}" == "http://testserver"
        return await self.client.get(f"{location.path}?{location.query}", headers=headers)

    async def login(self) -> dict[str, Any]:
        """The whole flow; the callback's JSON `data`."""
        response = await self.callback(await self.authorize())
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])


def query_of(url: str) -> dict[str, str]:
    """The query parameters of a URL (one value each)."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
async def oauth_mcp() -> AsyncIterator[OAuthMcpServer]:
    """A running OAuth-protected MCP server."""
    async with serve_oauth_mcp() as server:
        yield server


@pytest.fixture
async def harness(store: Store, tmp_path: Path, oauth_mcp: OAuthMcpServer, fake_llm: FakeLLM) -> AsyncIterator[Harness]:
    """Graph `g` (agent `a` using tool `tools` on the OAuth MCP server) in an app on `store`."""
    document = graph_doc(fake_llm.base_url, [agent("a", tools=["tools"])], tools={"tools": mcp_tool(oauth_mcp.url)})
    await push(store, tmp_path, document)
    app = create_app(Settings.from_env({}, database_url="sqlite+aiosqlite:///:memory:", dev=True), store=store)
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(client=client, services=app.state.services, server=oauth_mcp)
