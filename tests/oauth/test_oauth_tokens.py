"""OAuth tokens are refreshed before they expire: once per credential even under concurrency, and across processes."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa

from inkeep_runtime.credentials import CredentialError, CredentialResolver
from inkeep_runtime.oauth.tokens import OAuthTokens
from inkeep_runtime.store.rows import Scope
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.oauth.conftest import Harness

CHAT = "/tenants/t1/projects/p1/graphs/g/v1/chat/completions"
REFERENCE = {"tenant_id": "t1", "project_id": "p1", "id": "oauth-tools", "type": "oauth", "retrieval_params": {}}


async def stored_token(harness: Harness) -> tuple[str, str | None]:
    async with harness.services.store.read() as session:
        row = (await session.execute(sa.text("SELECT access_token, expires_at FROM oauth_tokens"))).one()
    return row[0], row[1]


async def expire(harness: Harness) -> None:
    """Let the stored access token's lifetime pass: the server forgets it and our record says it expired."""
    harness.server.provider.expire_access_tokens()
    async with harness.services.store.engine.begin() as connection:
        await connection.execute(sa.text("UPDATE oauth_tokens SET expires_at = '2000-01-01T00:00:00.000Z'"))
    harness.services.changed(Scope("t1", "p1"))  # as the graph cache's few seconds would


async def test_expired_token_is_refreshed_before_the_mcp_call(harness: Harness, fake_llm: FakeLLM) -> None:
    await harness.login()
    before, _ = await stored_token(harness)
    await expire(harness)
    fake_llm.add(Turn.tool_calls([("c1", "whoami", {})]), Turn.text("Still you."))
    body = {"model": "m", "messages": [{"role": "user", "content": "who?"}]}
    response = await harness.client.post(CHAT, json=body)
    assert response.json()["choices"][0]["message"]["content"] == "Still you."
    (client_id,) = harness.server.provider.clients
    assert fake_llm.requests[0].tool_names == ["echo", "whoami"]
    assert fake_llm.requests[1].messages[-1]["content"] == client_id
    assert harness.server.provider.grants == ["authorization_code", "refresh_token"]
    after, expires_at = await stored_token(harness)
    assert after != before
    assert expires_at is not None
    assert not expires_at.startswith("2000")


async def test_fresh_token_is_used_as_stored(harness: Harness) -> None:
    await harness.login()
    token, _ = await stored_token(harness)
    tokens = OAuthTokens(harness.services.store, harness.services.http)
    secret = await tokens.access_token(REFERENCE)
    assert secret.value == token
    assert secret.valid_until is not None
    assert 3400 < secret.valid_until - time.time() <= 3540  # an hour, less the refresh margin
    assert tokens.refreshes == 0


async def test_concurrent_callers_share_one_refresh(harness: Harness) -> None:
    await harness.login()
    await expire(harness)
    tokens = OAuthTokens(harness.services.store, harness.services.http)
    found: list[str] = []

    async def resolve() -> None:
        found.append((await tokens.access_token(REFERENCE)).value)

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(resolve)
    assert tokens.refreshes == 1
    assert harness.server.provider.grants.count("refresh_token") == 1
    assert len(set(found)) == 1
    assert found[0] == (await stored_token(harness))[0]


async def test_a_refresh_lost_to_another_process_uses_the_winners_token(harness: Harness) -> None:
    await harness.login()
    await expire(harness)
    first = OAuthTokens(harness.services.store, harness.services.http)
    second = OAuthTokens(harness.services.store, harness.services.http)  # another process: its own lock
    found: list[str] = []

    async def resolve(tokens: OAuthTokens) -> None:
        found.append((await tokens.access_token(REFERENCE)).value)

    async with anyio.create_task_group() as group:
        group.start_soon(resolve, first)
        group.start_soon(resolve, second)
    assert first.refreshes + second.refreshes == 1  # the loser's rotated refresh token was refused
    assert found[0] == found[1] == (await stored_token(harness))[0]


async def test_refused_refresh_asks_for_a_new_login_without_showing_tokens(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await harness.login()
    await expire(harness)
    harness.server.provider.refresh_tokens.clear()
    resolver = CredentialResolver(oauth=OAuthTokens(harness.services.store, harness.services.http))
    with pytest.raises(CredentialError) as failure:
        await resolver.headers_for(REFERENCE)
    assert failure.value.detail.startswith("The OAuth access token of credential 'oauth-tools' expired and could not")
    assert "invalid_grant" in failure.value.detail
    assert failure.value.detail.endswith("log in again.")
    caplog.set_level(logging.WARNING, logger="inkeep_runtime")
    for secret in harness.server.provider.issued:
        assert secret not in failure.value.detail
        assert secret not in caplog.text


async def test_oauth_credential_becomes_a_bearer_header(harness: Harness) -> None:
    await harness.login()
    token, _ = await stored_token(harness)
    resolver = CredentialResolver(oauth=OAuthTokens(harness.services.store, harness.services.http))
    resolved = await resolver.credential_headers(REFERENCE)
    assert resolved.headers == {"Authorization": f"Bearer {token}"}
    assert token not in repr(resolved)


async def test_oauth_credential_without_tokens_or_store_is_a_clear_error(harness: Harness) -> None:
    reference: dict[str, Any] = {**REFERENCE, "id": "never-logged-in"}
    with pytest.raises(CredentialError, match="no OAuth token store is configured"):
        await CredentialResolver().resolve(reference)
    async with httpx.AsyncClient() as http:
        resolver = CredentialResolver(oauth=OAuthTokens(harness.services.store, http))
        with pytest.raises(CredentialError, match="has no OAuth tokens stored; log in with GET"):
            await resolver.resolve(reference)
