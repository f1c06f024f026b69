"""MCP OAuth end to end: login redirect with PKCE, callback, tokens as a credential, tool calls with the token."""

from __future__ import annotations

import json
import logging
import secrets

import httpx
import pytest
import sqlalchemy as sa

from inkeep_runtime import Settings, create_app
from inkeep_runtime.manage.oauth import state_key
from tests.conftest import running_lifespan
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.oauth.conftest import CRUD, LOGIN, Harness, query_of

CHAT = "/tenants/t1/projects/p1/graphs/g/v1/chat/completions"


async def chat(harness: Harness, text: str) -> str:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    response = await harness.client.post(CHAT, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


async def execute(harness: Harness, statement: str, **params: object) -> None:
    async with harness.services.store.engine.begin() as connection:
        await connection.execute(sa.text(statement), params)


async def test_login_redirects_to_the_authorization_server_with_pkce_and_a_registered_client(
    harness: Harness,
) -> None:
    response = await harness.client.get(LOGIN)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(f"{harness.server.base_url}/authorize?")
    query = query_of(location)
    (client_id,) = harness.server.provider.clients
    assert query == {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "http://testserver/oauth/callback",
        "state": query["state"],
        "code_challenge": query["code_challenge"],
        "code_challenge_method": "S256",
        "scope": "tools",
        "resource": harness.server.url,
    }
    assert len(query["state"]) >= 43
    async with harness.services.store.read() as session:
        stored = (await session.execute(sa.text("SELECT id, tool_id FROM oauth_states"))).all()
    assert [tuple(row) for row in stored] == [(state_key(query["state"]), "tools")]  # only its hash is kept


async def test_login_can_answer_the_url_as_json(harness: Harness) -> None:
    response = await harness.client.get(f"{LOGIN}?redirect=false")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["url"].startswith(f"{harness.server.base_url}/authorize?")
    assert data["expiresAt"].endswith("Z")


async def test_full_flow_links_an_oauth_credential_and_the_tool_works_only_with_the_token(
    harness: Harness, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="inkeep_runtime")
    fake_llm.add(Turn.text("No tools yet."))
    assert await chat(harness, "who am I?") == "No tools yet."
    assert fake_llm.requests[0].tool_names == []  # unauthenticated: the server's tools are not offered

    redirect = await harness.authorize()
    code = query_of(redirect.headers["location"])["code"]
    response = await harness.callback(redirect)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"toolId": "tools", "credentialReferenceId": "oauth-tools", "status": "healthy"}}

    tool = (await harness.client.get(f"{CRUD}/tools/tools")).json()["data"]
    assert (tool["status"], tool["credentialReferenceId"], tool["lastError"]) == ("healthy", "oauth-tools", None)
    credential = (await harness.client.get(f"{CRUD}/credentials/oauth-tools")).json()["data"]
    assert (credential["type"], credential["credentialStoreId"]) == ("oauth", "oauth-default")
    assert credential["retrievalParams"] == {"toolId": "tools"}

    fake_llm.add(Turn.tool_calls([("c1", "whoami", {})]), Turn.text("You are the registered client."))
    assert await chat(harness, "who am I now?") == "You are the registered client."
    (client_id,) = harness.server.provider.clients
    assert fake_llm.requests[2].messages[-1]["content"] == client_id  # the MCP server saw our bearer token

    async with httpx.AsyncClient() as anonymous:  # and without it the server refuses
        refused = await anonymous.post(harness.server.url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert refused.status_code == 401

    everything = json.dumps([tool, credential, (await harness.client.get(f"{CRUD}/credentials")).json()])
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("inkeep_runtime"))
    assert "requires authentication" in ours  # the log was captured (the first run found the server locked)
    for secret in [*harness.server.provider.issued, code]:
        assert secret not in everything
        assert secret not in ours


async def test_client_registration_is_reused_by_later_logins(harness: Harness) -> None:
    await harness.login()
    await harness.login()
    assert len(harness.server.provider.clients) == 1
    assert harness.server.provider.grants == ["authorization_code", "authorization_code"]


async def test_server_checks_the_pkce_verifier(harness: Harness) -> None:
    redirect = await harness.authorize()
    await execute(harness, "UPDATE oauth_states SET code_verifier = :v", v=secrets.token_urlsafe(64))
    response = await harness.callback(redirect)
    assert response.status_code == 502
    assert response.json()["code"] == "oauth_failed"
    assert "refused the authorization_code grant: HTTP 400 invalid_grant" in response.json()["detail"]
    tool = (await harness.client.get(f"{CRUD}/tools/tools")).json()["data"]
    assert tool["status"] == "needs_auth"
    assert tool["credentialReferenceId"] is None


async def test_denied_authorization_leaves_the_tool_needing_auth(harness: Harness) -> None:
    harness.server.provider.deny = True
    response = await harness.callback(await harness.authorize())
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "oauth_denied"
    assert problem["detail"] == (
        "The authorization server refused access for tool 'tools' (access_denied: The user said no.); log in again."
    )
    tool = (await harness.client.get(f"{CRUD}/tools/tools")).json()["data"]
    assert (tool["status"], tool["lastError"], tool["credentialReferenceId"]) == (
        "needs_auth",
        problem["detail"],
        None,
    )


async def test_a_state_works_once(harness: Harness) -> None:
    redirect = await harness.authorize()
    assert (await harness.callback(redirect)).status_code == 200
    again = await harness.callback(redirect)
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_oauth_state"
    assert "already used" in again.json()["detail"]


async def test_unknown_or_missing_state_is_refused(harness: Harness) -> None:
    for query in (f"code=c&state={secrets.token_urlsafe(32)}", "code=c"):
        response = await harness.client.get(f"/oauth/callback?{query}")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_oauth_state"


async def test_expired_state_is_refused_and_tokens_are_not_requested(harness: Harness) -> None:
    redirect = await harness.authorize()
    await execute(harness, "UPDATE oauth_states SET expires_at = '2000-01-01T00:00:00.000Z'")
    response = await harness.callback(redirect)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "The OAuth login expired (logins must complete within 10 minutes); start it again."
    )
    assert harness.server.provider.grants == []


async def test_browsers_get_a_page_that_tells_the_opener(harness: Harness) -> None:
    response = await harness.callback(await harness.authorize(), accept="text/html,application/xhtml+xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'window.opener.postMessage({"type": "oauth-success", "toolId": "tools"}' in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'; script-src 'sha256-")


async def test_server_without_oauth_metadata_is_a_clear_error(harness: Harness) -> None:
    tool = {
        "id": "plain",
        "name": "plain",
        "config": {"type": "mcp", "mcp": {"server": {"url": "http://127.0.0.1:9/mcp"}}},
    }
    assert (await harness.client.post(f"{CRUD}/tools", json=tool)).status_code == 201
    response = await harness.client.get(f"{CRUD}/tools/plain/oauth-login")
    assert response.status_code == 502
    assert response.json()["detail"] == (
        "MCP server http://127.0.0.1:9/mcp could not be reached to discover its OAuth settings (ConnectError)."
    )


async def test_callback_needs_no_admin_token_but_login_does(harness: Harness) -> None:
    app = create_app(Settings(admin_token="admin-secret"), store=harness.services.store)
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get(LOGIN)).status_code == 401
            login = await client.get(LOGIN, headers={"authorization": "Bearer admin-secret"})
            assert login.status_code == 302
            async with httpx.AsyncClient() as browser:
                redirect = await browser.get(login.headers["location"])
            location = httpx.URL(redirect.headers["location"])
            done = await client.get(f"{location.path}?{location.query.decode()}")
            assert done.status_code == 200, done.text


async def test_health_checks_send_the_token_after_login(harness: Harness) -> None:
    before = (await harness.client.post(f"{CRUD}/tools/tools/health-check")).json()["data"]
    assert before["healthCheck"]["status"] == "needs_auth"
    await harness.login()
    after = (await harness.client.post(f"{CRUD}/tools/tools/health-check")).json()["data"]
    assert after["healthCheck"] == {"status": "healthy", "error": None}
    assert [tool["name"] for tool in after["tool"]["availableTools"]] == ["echo", "whoami"]


async def test_full_graph_round_trip_keeps_the_oauth_credential(harness: Harness) -> None:
    await harness.login()
    graph = (await harness.client.get(f"{CRUD}/graph/g")).json()["data"]
    response = await harness.client.put(f"{CRUD}/graph/g", json=graph)
    assert response.status_code == 200, response.text
    tool = (await harness.client.get(f"{CRUD}/tools/tools")).json()["data"]
    assert tool["credentialReferenceId"] == "oauth-tools"
