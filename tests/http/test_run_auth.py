"""Run-API auth: an API key of the graph in the path, checked before the body is read; `--dev` turns it off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from starlette.applications import Starlette

from inkeep_runtime import Settings
from inkeep_runtime.http.auth import INVALID_FORMAT, INVALID_KEY, MISSING_HEADER
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope
from tests.http.runs import CHAT, GRAPH, UI_CHAT, ScriptedRunner, create_api_key, make_app, run_client

HELLO = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
BODIES = {
    CHAT: HELLO,
    UI_CHAT: {"id": "chat-1", "messages": [{"role": "user", "parts": [{"type": "text", "text": "Hi"}]}]},
}
ENDPOINTS = pytest.mark.parametrize("path", [CHAT, UI_CHAT])


@pytest.fixture
def backend() -> str:
    """Key verification is covered on both databases in tests/manage: SQLite only here."""
    return "sqlite"


@pytest.fixture
def runner() -> ScriptedRunner:
    """A runner answering "Hello"."""
    return ScriptedRunner()


@pytest.fixture
def app(settings: Settings, store: Store, runner: ScriptedRunner) -> Starlette:
    """The app under test (auth on: the default settings)."""
    return make_app(settings, store, runner)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client (graphs g1, g2 exist)."""
    async with run_client(app) as http:
        yield http


def _assert_unauthorized(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "x-conversation-id" not in response.headers
    body = response.json()
    assert (body["status"], body["code"], body["detail"]) == (401, "unauthorized", detail)


@ENDPOINTS
async def test_valid_key_runs_the_graph(client: httpx.AsyncClient, runner: ScriptedRunner, path: str) -> None:
    key = await create_api_key(client)
    response = await client.post(path, json=BODIES[path], headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.headers["x-conversation-id"]
    assert len(runner.requests) == 1


@ENDPOINTS
async def test_missing_header_is_401(client: httpx.AsyncClient, runner: ScriptedRunner, path: str) -> None:
    _assert_unauthorized(await client.post(path, json=BODIES[path]), MISSING_HEADER)
    assert runner.requests == []


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "sk_abc"])
async def test_non_bearer_header_is_401(client: httpx.AsyncClient, header: str) -> None:
    _assert_unauthorized(await client.post(CHAT, json=HELLO, headers={"authorization": header}), MISSING_HEADER)


async def test_malformed_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, json=HELLO, headers={"authorization": "Bearer not-a-key"})
    _assert_unauthorized(response, INVALID_FORMAT)


async def test_key_with_a_wrong_secret_is_401(client: httpx.AsyncClient) -> None:
    key = await create_api_key(client)
    tampered = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    response = await client.post(CHAT, json=HELLO, headers={"authorization": f"Bearer {tampered}"})
    _assert_unauthorized(response, INVALID_KEY)


@ENDPOINTS
async def test_key_of_another_graph_is_401(client: httpx.AsyncClient, runner: ScriptedRunner, path: str) -> None:
    key = await create_api_key(client, "g2")
    response = await client.post(path, json=BODIES[path], headers={"authorization": f"Bearer {key}"})
    _assert_unauthorized(response, INVALID_KEY)
    assert runner.requests == []


@pytest.mark.parametrize("prefix", ["/tenants/t2/projects/p1/graphs/g1", "/tenants/t1/projects/p2/graphs/g1"])
async def test_key_of_another_tenant_or_project_is_401(client: httpx.AsyncClient, prefix: str) -> None:
    key = await create_api_key(client)
    response = await client.post(
        f"{prefix}/v1/chat/completions", json=HELLO, headers={"authorization": f"Bearer {key}"}
    )
    _assert_unauthorized(response, INVALID_KEY)


async def test_expired_key_is_401(client: httpx.AsyncClient, store: Store) -> None:
    key = await create_api_key(client)
    response = await client.get("/tenants/t1/crud/projects/p1/api-keys")
    key_id = response.json()["data"][0]["id"]
    async with store.write(Scope("t1", "p1").key) as session:
        past = {"expires_at": "2020-01-01T00:00:00.000Z"}
        await Rows(session).update("api_keys", Scope("t1", "p1"), key_id, past, label="API key")
    response = await client.post(CHAT, json=HELLO, headers={"authorization": f"Bearer {key}"})
    _assert_unauthorized(response, INVALID_KEY)


async def test_auth_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    _assert_unauthorized(response, MISSING_HEADER)


async def test_use_is_recorded_on_the_key(client: httpx.AsyncClient) -> None:
    key = await create_api_key(client)
    assert (await client.post(CHAT, json=HELLO, headers={"authorization": f"Bearer {key}"})).status_code == 200
    listed = (await client.get("/tenants/t1/crud/projects/p1/api-keys")).json()["data"]
    assert listed[0]["lastUsedAt"] is not None


async def test_openai_sdk_raises_authentication_error(app: Starlette, client: httpx.AsyncClient) -> None:
    sdk = openai.AsyncOpenAI(
        base_url=f"http://testserver{GRAPH}/v1",
        api_key="sk_wrong",
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        max_retries=0,
        _strict_response_validation=True,
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 401
    key = await create_api_key(client)
    completion = await sdk.with_options(api_key=key).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == "Hello"


@ENDPOINTS
async def test_dev_mode_needs_no_key(store: Store, runner: ScriptedRunner, path: str) -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", dev=True)
    async with run_client(make_app(settings, store, runner)) as client:
        response = await client.post(path, json=BODIES[path])
    assert response.status_code == 200, response.text
    assert response.headers["x-conversation-id"]
