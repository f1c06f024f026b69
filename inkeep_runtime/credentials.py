"""Resolve credential references into secrets, and secrets into request headers.

A credential reference row says where a secret lives (`type`, `credential_store_id`,
`retrieval_params`), never the secret itself. `CredentialResolver` looks it up:

- `env`: `{"key": "VAR"}` reads `VAR` from the environment snapshot taken by `Settings.from_env`.
- `memory`: `{"key": "NAME"}` reads an in-process value, falling back to the environment snapshot
  (as Inkeep's `InMemoryCredentialStore` falls back to `process.env`).
- `nango`: `{"connectionId", "providerConfigKey"}` asks Nango's REST API
  (`GET /connection/{connectionId}?provider_config_key=...`) and caches the token briefly (at most
  `ttl_s`, never past Nango's `expires_at`). Concurrent lookups of one connection share one request.
- `oauth`: tokens a `GET .../tools/{id}/oauth-login` obtained, kept in the database and refreshed
  before they expire (`inkeep_runtime.oauth.tokens.OAuthTokens`, passed in as `oauth`).
- `keychain`: not supported by this runtime (Inkeep's needs a native OS module).

How a secret becomes headers (`headers_for`, inkeep-behaviour.md §9.5): `Authorization: Bearer <secret>`,
or `{header: secret}` when `retrievalParams.header` names one. An MCP server hosted by Nango itself
(its URL is on the Nango server, e.g. `https://api.nango.dev/mcp`) is different: it wants the Nango
secret key as the bearer plus `provider-config-key` and `connection-id` headers naming the connection
(checked to exist first, through the same cached lookup).

`credential_headers` also says until when the headers stay valid (`valid_until`), so a cache that
holds them (the graph loader's) can expire with them instead of sending a stale token.

Secrets never appear in error messages or log lines: errors name the reference and where the secret
was looked for, nothing more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import quote, urlsplit

import anyio
import httpx

from inkeep_runtime.errors import UpstreamError
from inkeep_runtime.settings import Settings

__all__ = [
    "DEFAULT_NANGO_BASE_URL",
    "CredentialError",
    "CredentialHeaders",
    "CredentialResolver",
    "OAuthTokenSource",
    "Secret",
]

DEFAULT_NANGO_BASE_URL: Final = "https://api.nango.dev"
_TOKEN_FIELDS: Final = ("access_token", "api_key", "apiKey")
_EXPIRY_MARGIN_S: Final = 5.0
"""A Nango token is dropped from the cache this long before it expires."""


class CredentialError(UpstreamError):
    """A credential reference could not be turned into a secret (never carries the secret)."""

    code = "credential_unavailable"
    title = "Credential Unavailable"


@dataclass(frozen=True, slots=True, kw_only=True)
class Secret:
    """A resolved secret and how long it may be reused."""

    value: str = field(repr=False)
    valid_until: float | None = None
    """Epoch seconds after which it must be resolved again (None: no limit known)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialHeaders:
    """HTTP headers carrying a credential, and until when they may be sent."""

    headers: dict[str, str] = field(repr=False)
    valid_until: float | None = None
    """Epoch seconds after which they must be resolved again (None: no limit known)."""


class OAuthTokenSource(Protocol):
    """Where `oauth` credentials come from (`inkeep_runtime.oauth.tokens.OAuthTokens`)."""

    async def access_token(self, reference: Mapping[str, Any]) -> Secret:
        """A usable access token for the credential reference row (refreshed if due).

        Raises:
            CredentialError: no usable token.
        """
        ...


class CredentialResolver:
    """Turns credential reference rows into secret strings and headers."""

    def __init__(
        self,
        *,
        environment: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
        nango_base_url: str = DEFAULT_NANGO_BASE_URL,
        nango_secret_key: str | None = None,
        timeout_s: float = 5.0,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        oauth: OAuthTokenSource | None = None,
    ) -> None:
        """Create a resolver.

        Args:
            environment: snapshot of the process environment (`Settings.environment`).
            values: in-process secrets of the `memory` store, by key.
            http: shared client for Nango; without one, `nango` references fail.
            nango_base_url: Nango server (`NANGO_SERVER_URL`).
            nango_secret_key: Nango secret key (`NANGO_SECRET_KEY`); without one, `nango` references fail.
            timeout_s: longest wait for Nango.
            ttl_s: how long a Nango token is reused.
            clock: wall clock in epoch seconds (compared with Nango's `expires_at`).
            oauth: the store of `oauth` credentials; without one, `oauth` references fail.
        """
        self._environment = dict(environment or {})
        self._values = dict(values or {})
        self._http = http
        self._nango_base_url = nango_base_url.rstrip("/")
        self._nango_secret_key = nango_secret_key
        self._timeout_s = timeout_s
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._oauth = oauth
        self.nango_requests = 0
        """How many requests this resolver sent to Nango (for tests and metrics)."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        values: Mapping[str, str] | None = None,
        oauth: OAuthTokenSource | None = None,
    ) -> CredentialResolver:
        """A resolver configured from `settings` (environment snapshot, Nango URL and key)."""
        return cls(
            environment=settings.environment,
            values=values,
            http=http,
            nango_base_url=settings.nango_base_url,
            nango_secret_key=settings.nango_secret_key,
            oauth=oauth,
        )

    async def headers_for(self, reference: Mapping[str, Any], *, target_url: str | None = None) -> dict[str, str]:
        """HTTP headers carrying the referenced secret (see the module docstring).

        Args:
            reference: the credential reference row.
            target_url: where the headers go (an MCP server URL); a Nango-hosted MCP server gets Nango's headers.

        Raises:
            CredentialError: the secret cannot be resolved.
        """
        return (await self.credential_headers(reference, target_url=target_url)).headers

    async def credential_headers(
        self, reference: Mapping[str, Any], *, target_url: str | None = None
    ) -> CredentialHeaders:
        """Like `headers_for`, with the time until which the headers may be reused.

        Raises:
            CredentialError: the secret cannot be resolved.
        """
        params = _params(reference)
        if reference.get("type") == "nango" and target_url is not None and self.is_nango_hosted(target_url):
            ref_id = str(reference.get("id"))
            secret = await self._nango(ref_id, params)  # the connection must exist; its token is not sent
            assert self._nango_secret_key is not None  # _nango checked it
            headers = {
                "Authorization": f"Bearer {self._nango_secret_key}",
                "provider-config-key": str(params["providerConfigKey"]),
                "connection-id": str(params["connectionId"]),
            }
            return CredentialHeaders(headers=headers, valid_until=secret.valid_until)
        secret = await self.resolve_secret(reference)
        header = params.get("header")
        if isinstance(header, str) and header:
            return CredentialHeaders(headers={header: secret.value}, valid_until=secret.valid_until)
        return CredentialHeaders(headers={"Authorization": f"Bearer {secret.value}"}, valid_until=secret.valid_until)

    def is_nango_hosted(self, url: str) -> bool:
        """Whether `url` is an MCP server hosted by Nango (on the configured Nango server, or `*.nango.dev`)."""
        target, nango = urlsplit(url), urlsplit(self._nango_base_url)
        host = (target.hostname or "").lower()
        if host == "nango.dev" or host.endswith(".nango.dev"):
            return True
        same_server = (target.scheme, host, target.port) == (nango.scheme, (nango.hostname or "").lower(), nango.port)
        return same_server and target.path.startswith(nango.path.rstrip("/") + "/")

    async def resolve(self, reference: Mapping[str, Any]) -> str:
        """The secret a credential reference row points at.

        Raises:
            CredentialError: unknown or unsupported store, missing retrieval parameters, or the store
                has no such secret.
        """
        return (await self.resolve_secret(reference)).value

    async def resolve_secret(self, reference: Mapping[str, Any]) -> Secret:
        """The secret a credential reference row points at, with how long it may be reused.

        Raises:
            CredentialError: unknown or unsupported store, missing retrieval parameters, or the store
                has no such secret.
        """
        ref_id = str(reference.get("id"))
        kind = reference.get("type")
        if kind == "env":
            secret = Secret(value=self._lookup(ref_id, _key(reference), self._environment, "environment variable"))
        elif kind == "memory":
            source = {**self._environment, **self._values}
            secret = Secret(value=self._lookup(ref_id, _key(reference), source, "in-memory key"))
        elif kind == "nango":
            secret = await self._nango(ref_id, _params(reference))
        elif kind == "oauth":
            if self._oauth is None:
                msg = f"Credential '{ref_id}' holds OAuth tokens, but no OAuth token store is configured."
                raise CredentialError(msg, credential_id=ref_id)
            secret = await self._oauth.access_token(reference)
        elif kind == "keychain":
            msg = f"Credential '{ref_id}' uses a keychain store, which this runtime does not support; use env or nango."
            raise CredentialError(msg, credential_id=ref_id)
        else:
            msg = f"Credential '{ref_id}' has type {kind!r}; expected one of env, memory, nango, oauth."
            raise CredentialError(msg, credential_id=ref_id)
        if "\r" in secret.value or "\n" in secret.value:
            msg = f"Credential '{ref_id}' resolved to a value with a line break, which cannot be sent as a header."
            raise CredentialError(msg, credential_id=ref_id)
        return secret

    def _lookup(self, ref_id: str, key: str | None, source: Mapping[str, str], label: str) -> str:
        if key is None:
            msg = f'Credential \'{ref_id}\' needs retrievalParams {{"key": "NAME"}} naming the {label}.'
            raise CredentialError(msg, credential_id=ref_id)
        secret = source.get(key)
        if not secret:
            msg = f"Credential '{ref_id}' reads {label} '{key}', which is not set."
            raise CredentialError(msg, credential_id=ref_id)
        return secret

    async def _nango(self, ref_id: str, params: Mapping[str, Any]) -> Secret:
        connection, provider = params.get("connectionId"), params.get("providerConfigKey")
        if not isinstance(connection, str) or not isinstance(provider, str) or not connection or not provider:
            msg = f"Credential '{ref_id}' needs retrievalParams connectionId and providerConfigKey (strings) for Nango."
            raise CredentialError(msg, credential_id=ref_id)
        if self._http is None or not self._nango_secret_key:
            msg = f"Credential '{ref_id}' is stored in Nango, but NANGO_SECRET_KEY is not configured."
            raise CredentialError(msg, credential_id=ref_id)
        cache_key = json.dumps([connection, provider])
        cached = self._cache.get(cache_key)
        if cached is not None and cached[1] > self._clock():
            return Secret(value=cached[0], valid_until=cached[1])
        # Single flight: concurrent lookups of one connection wait for the first one's answer.
        async with self._locks.setdefault(cache_key, anyio.Lock()):
            cached = self._cache.get(cache_key)
            if cached is not None and cached[1] > self._clock():
                return Secret(value=cached[0], valid_until=cached[1])
            return await self._fetch_token(ref_id, connection, provider, cache_key)

    async def _fetch_token(self, ref_id: str, connection: str, provider: str, cache_key: str) -> Secret:
        now = self._clock()
        where = f"Nango connection '{connection}' (provider '{provider}') for credential '{ref_id}'"
        body = await self._fetch_nango(ref_id, connection, provider, where)
        credentials = body.get("credentials") if isinstance(body, dict) else None
        credentials = credentials if isinstance(credentials, dict) else {}
        token: str | None = next((credentials[f] for f in _TOKEN_FIELDS if isinstance(credentials.get(f), str)), None)
        if not token:
            msg = f"{where} holds no access_token or api_key."
            raise CredentialError(msg, credential_id=ref_id)
        expires = _epoch(credentials.get("expires_at"))
        until = now + self._ttl_s if expires is None else min(now + self._ttl_s, expires - _EXPIRY_MARGIN_S)
        if until > now:
            self._cache[cache_key] = (token, until)
        return Secret(value=token, valid_until=max(until, now))

    async def _fetch_nango(self, ref_id: str, connection: str, provider: str, where: str) -> Any:
        assert self._http is not None
        self.nango_requests += 1
        url = f"{self._nango_base_url}/connection/{quote(connection, safe='')}"
        try:
            with anyio.fail_after(self._timeout_s):
                response = await self._http.get(
                    url,
                    params={"provider_config_key": provider},
                    headers={"Authorization": f"Bearer {self._nango_secret_key}"},
                )
        except TimeoutError as exc:
            msg = f"{where}: Nango did not answer within {self._timeout_s:g} s."
            raise CredentialError(msg, credential_id=ref_id) from exc
        except httpx.HTTPError as exc:  # the message of a transport error can carry the request; name its class only
            msg = f"{where}: Nango at {self._nango_base_url} could not be reached ({type(exc).__name__})."
            raise CredentialError(msg, credential_id=ref_id) from None
        if response.status_code != 200:
            msg = f"{where}: Nango answered HTTP {response.status_code}."
            raise CredentialError(msg, credential_id=ref_id)
        try:
            return response.json()
        except ValueError:
            msg = f"{where}: Nango answered something that is not JSON."
            raise CredentialError(msg, credential_id=ref_id) from None


def _params(reference: Mapping[str, Any]) -> Mapping[str, Any]:
    params = reference.get("retrieval_params")
    return params if isinstance(params, Mapping) else {}


def _key(reference: Mapping[str, Any]) -> str | None:
    key = _params(reference).get("key")
    return key if isinstance(key, str) and key else None


def _epoch(value: object) -> float | None:
    """Nango's `expires_at` (ISO 8601 string or epoch seconds) in epoch seconds; None when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo is not None else None
    return None
