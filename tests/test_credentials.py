"""Credential references resolve through env, memory and Nango stores; secrets never leak into errors or logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inkeep_runtime.credentials import CredentialError, CredentialResolver
from inkeep_runtime.settings import Settings
from tests.fakes.servers import serve

NANGO_KEY = "nango-secret-key-XYZ"
TOKEN = "tok-nango-123456"


def ref(kind: str, ref_id: str = "cred", **params: Any) -> dict[str, Any]:
    """A credential reference row as the store returns it."""
    return {"id": ref_id, "type": kind, "credential_store_id": f"{kind}-default", "retrieval_params": params}


class FakeNango:
    """Nango's `GET /connection/{id}` over a table of connections; counts requests."""

    def __init__(self) -> None:
        self.connections: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = 0

    async def connection(self, request: Request) -> JSONResponse:
        self.calls += 1
        if request.headers.get("authorization") != f"Bearer {NANGO_KEY}":
            return JSONResponse({"error": f"bad key {request.headers.get('authorization')}"}, status_code=401)
        key = (request.path_params["connection_id"], request.query_params.get("provider_config_key", ""))
        if key not in self.connections:
            return JSONResponse({"error": "Unknown connection"}, status_code=404)
        return JSONResponse({"connection_id": key[0], "credentials": self.connections[key]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/connection/{connection_id}", self.connection)])


@pytest.fixture
async def nango() -> AsyncIterator[tuple[FakeNango, str]]:
    fake = FakeNango()
    async with serve(fake.app()) as base_url:
        yield fake, base_url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def nango_resolver(
    http: httpx.AsyncClient, base_url: str, *, key: str = NANGO_KEY, clock: Callable[[], float] | None = None
) -> CredentialResolver:
    if clock is not None:
        return CredentialResolver(http=http, nango_base_url=base_url, nango_secret_key=key, clock=clock)
    settings = Settings.from_env({"NANGO_SERVER_URL": base_url, "NANGO_SECRET_KEY": key})
    return CredentialResolver.from_settings(settings, http=http)


def test_settings_snapshot_environment_and_nango_without_showing_secrets() -> None:
    settings = Settings.from_env({"MY_TOKEN": "s3cret", "NANGO_SECRET_KEY": NANGO_KEY, "NANGO_SERVER_URL": "http://n"})
    assert settings.environment["MY_TOKEN"] == "s3cret"
    assert (settings.nango_base_url, settings.nango_secret_key) == ("http://n", NANGO_KEY)
    assert "s3cret" not in repr(settings)
    assert NANGO_KEY not in repr(settings)
    assert settings == Settings(nango_base_url="http://n", nango_secret_key=NANGO_KEY)
    hash(settings)


async def test_env_reference_reads_the_named_variable() -> None:
    resolver = CredentialResolver.from_settings(Settings.from_env({"MY_TOKEN": "s3cret"}))
    assert await resolver.resolve(ref("env", key="MY_TOKEN")) == "s3cret"
    assert await resolver.headers_for(ref("env", key="MY_TOKEN")) == {"Authorization": "Bearer s3cret"}


async def test_missing_variable_names_reference_and_variable() -> None:
    resolver = CredentialResolver(environment={"OTHER": "s3cret"})
    with pytest.raises(CredentialError) as caught:
        await resolver.resolve(ref("env", "api-key", key="MY_TOKEN"))
    assert caught.value.detail == "Credential 'api-key' reads environment variable 'MY_TOKEN', which is not set."
    assert (caught.value.status, caught.value.code) == (502, "credential_unavailable")


async def test_reference_without_key_is_an_error() -> None:
    with pytest.raises(CredentialError, match="needs retrievalParams"):
        await CredentialResolver().resolve(ref("env"))


async def test_memory_reference_reads_values_then_environment() -> None:
    resolver = CredentialResolver(values={"A": "from-memory"}, environment={"A": "from-env", "B": "env-only"})
    assert await resolver.resolve(ref("memory", key="A")) == "from-memory"
    assert await resolver.resolve(ref("memory", key="B")) == "env-only"
    with pytest.raises(CredentialError, match="in-memory key 'C'"):
        await resolver.resolve(ref("memory", key="C"))


async def test_custom_header_carries_the_raw_secret() -> None:
    resolver = CredentialResolver(values={"K": "abc"})
    assert await resolver.headers_for(ref("memory", key="K", header="X-Api-Key")) == {"X-Api-Key": "abc"}


async def test_keychain_and_unknown_types_are_refused() -> None:
    with pytest.raises(CredentialError, match="keychain store, which this runtime does not support"):
        await CredentialResolver().resolve(ref("keychain", key="K"))
    with pytest.raises(CredentialError, match="has type 'vault'"):
        await CredentialResolver().resolve(ref("vault", key="K"))


async def test_secret_with_line_break_is_refused_without_echoing_it() -> None:
    resolver = CredentialResolver(values={"K": "abc\r\nX-Evil: 1"})
    with pytest.raises(CredentialError) as caught:
        await resolver.resolve(ref("memory", key="K"))
    assert "abc" not in str(caught.value)


async def test_nango_reference_returns_access_token(nango: tuple[FakeNango, str], http: httpx.AsyncClient) -> None:
    fake, base_url = nango
    fake.connections["conn-1", "github"] = {"type": "OAUTH2", "access_token": TOKEN}
    resolver = nango_resolver(http, base_url)
    reference = ref("nango", connectionId="conn-1", providerConfigKey="github")
    assert await resolver.headers_for(reference) == {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("field", ["api_key", "apiKey"])
async def test_nango_api_key_credentials(nango: tuple[FakeNango, str], http: httpx.AsyncClient, field: str) -> None:
    fake, base_url = nango
    fake.connections["c", "p"] = {"type": "API_KEY", field: "key-1"}
    assert (
        await nango_resolver(http, base_url).resolve(ref("nango", connectionId="c", providerConfigKey="p")) == "key-1"
    )


async def test_nango_unknown_connection_is_a_clear_error(
    nango: tuple[FakeNango, str], http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    _fake, base_url = nango
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialError) as caught:
        await nango_resolver(http, base_url).resolve(
            ref("nango", "gh", connectionId="nope", providerConfigKey="github")
        )
    assert caught.value.detail == (
        "Nango connection 'nope' (provider 'github') for credential 'gh': Nango answered HTTP 404."
    )
    assert NANGO_KEY not in caplog.text


async def test_nango_rejected_secret_key_never_leaks(
    nango: tuple[FakeNango, str], http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake, base_url = nango
    fake.connections["c", "p"] = {"access_token": TOKEN}
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialError, match="answered HTTP 401") as caught:
        await nango_resolver(http, base_url, key="wrong-key-999").resolve(
            ref("nango", connectionId="c", providerConfigKey="p")
        )
    for secret in ("wrong-key-999", TOKEN):
        assert secret not in str(caught.value)
        assert secret not in caplog.text


async def test_nango_unreachable_names_the_server_not_the_key(http: httpx.AsyncClient) -> None:
    resolver = nango_resolver(http, "http://127.0.0.1:9")
    with pytest.raises(CredentialError, match=r"could not be reached \(ConnectError\)") as caught:
        await resolver.resolve(ref("nango", connectionId="c", providerConfigKey="p"))
    assert NANGO_KEY not in str(caught.value)


async def test_nango_without_secret_key_is_refused(http: httpx.AsyncClient) -> None:
    resolver = CredentialResolver(http=http)
    with pytest.raises(CredentialError, match="NANGO_SECRET_KEY is not configured"):
        await resolver.resolve(ref("nango", connectionId="c", providerConfigKey="p"))


async def test_nango_needs_connection_and_provider() -> None:
    with pytest.raises(CredentialError, match="connectionId and providerConfigKey"):
        await CredentialResolver(nango_secret_key=NANGO_KEY).resolve(ref("nango", connectionId="c"))


async def test_nango_connection_without_token_is_an_error(
    nango: tuple[FakeNango, str], http: httpx.AsyncClient
) -> None:
    fake, base_url = nango
    fake.connections["c", "p"] = {"type": "BASIC", "username": "u"}
    with pytest.raises(CredentialError, match="holds no access_token or api_key"):
        await nango_resolver(http, base_url).resolve(ref("nango", connectionId="c", providerConfigKey="p"))


async def test_nango_token_is_cached_for_the_ttl(nango: tuple[FakeNango, str], http: httpx.AsyncClient) -> None:
    fake, base_url = nango
    fake.connections["c", "p"] = {"access_token": TOKEN}
    now = [1_000.0]
    resolver = nango_resolver(http, base_url, clock=lambda: now[0])
    reference = ref("nango", connectionId="c", providerConfigKey="p")
    await resolver.resolve(reference)
    now[0] += 59
    await resolver.resolve(reference)
    assert fake.calls == 1
    now[0] += 2
    fake.connections["c", "p"] = {"access_token": "rotated"}
    assert await resolver.resolve(reference) == "rotated"
    assert fake.calls == 2


async def test_nango_token_expiry_shortens_the_cache(nango: tuple[FakeNango, str], http: httpx.AsyncClient) -> None:
    fake, base_url = nango
    fake.connections["c", "p"] = {"access_token": TOKEN, "expires_at": "1970-01-01T00:17:00.000Z"}  # epoch 1020
    now = [1_000.0]
    resolver = nango_resolver(http, base_url, clock=lambda: now[0])
    reference = ref("nango", connectionId="c", providerConfigKey="p")
    await resolver.resolve(reference)
    now[0] = 1_014.0
    await resolver.resolve(reference)
    assert fake.calls == 1
    now[0] = 1_016.0  # within the 5 s safety margin of expires_at
    await resolver.resolve(reference)
    assert fake.calls == 2


async def test_nango_expired_token_is_not_cached(nango: tuple[FakeNango, str], http: httpx.AsyncClient) -> None:
    fake, base_url = nango
    fake.connections["c", "p"] = {"access_token": TOKEN, "expires_at": 500}
    resolver = nango_resolver(http, base_url, clock=lambda: 1_000.0)
    reference = ref("nango", connectionId="c", providerConfigKey="p")
    await resolver.resolve(reference)
    await resolver.resolve(reference)
    assert fake.calls == 2


async def test_nango_timeout_is_a_credential_error(http: httpx.AsyncClient) -> None:
    async def slow(_request: Request) -> JSONResponse:
        await anyio.sleep(1)
        return JSONResponse({})

    async with serve(Starlette(routes=[Route("/connection/{connection_id}", slow)]), grace_s=0) as base_url:
        resolver = CredentialResolver(http=http, nango_base_url=base_url, nango_secret_key=NANGO_KEY, timeout_s=0.05)
        with pytest.raises(CredentialError, match=r"Nango did not answer within 0\.05 s"):
            await resolver.resolve(ref("nango", connectionId="c", providerConfigKey="p"))
