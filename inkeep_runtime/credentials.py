"""Resolve credential references into secrets, and secrets into request headers.

A credential reference row says where a secret lives (`type`, `credential_store_id`,
`retrieval_params`), never the secret itself. `CredentialResolver` looks it up:

- `env`: `{"key": "VAR"}` reads `VAR` from the environment snapshot taken by `Settings.from_env`.
- `memory`: `{"key": "NAME"}` reads an in-process value, falling back to the environment snapshot
  (as Inkeep's `InMemoryCredentialStore` falls back to `process.env`).
- `nango`: `{"connectionId", "providerConfigKey"}` asks Nango's REST API
  (`GET /connection/{connectionId}?provider_config_key=...`) and caches the token briefly.
- `keychain`: not supported by this runtime (Inkeep's needs a native OS module).

Secrets never appear in error messages or log lines: errors name the reference and where the secret
was looked for, nothing more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import anyio
import httpx

from inkeep_runtime.errors import UpstreamError
from inkeep_runtime.settings import Settings

__all__ = ["DEFAULT_NANGO_BASE_URL", "CredentialError", "CredentialResolver"]

DEFAULT_NANGO_BASE_URL: Final = "https://api.nango.dev"
_TOKEN_FIELDS: Final = ("access_token", "api_key", "apiKey")
_EXPIRY_MARGIN_S: Final = 5.0
"""A Nango token is dropped from the cache this long before it expires."""


class CredentialError(UpstreamError):
    """A credential reference could not be turned into a secret (never carries the secret)."""

    code = "credential_unavailable"
    title = "Credential Unavailable"


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

    @classmethod
    def from_settings(
        cls, settings: Settings, *, http: httpx.AsyncClient | None = None, values: Mapping[str, str] | None = None
    ) -> CredentialResolver:
        """A resolver configured from `settings` (environment snapshot, Nango URL and key)."""
        return cls(
            environment=settings.environment,
            values=values,
            http=http,
            nango_base_url=settings.nango_base_url,
            nango_secret_key=settings.nango_secret_key,
        )

    async def headers_for(self, reference: Mapping[str, Any]) -> dict[str, str]:
        """HTTP headers carrying the referenced secret.

        `Authorization: Bearer <secret>`, or `{header: secret}` when `retrievalParams.header` names one
        (e.g. `X-Api-Key`).

        Raises:
            CredentialError: the secret cannot be resolved.
        """
        secret = await self.resolve(reference)
        header = _params(reference).get("header")
        if isinstance(header, str) and header:
            return {header: secret}
        return {"Authorization": f"Bearer {secret}"}

    async def resolve(self, reference: Mapping[str, Any]) -> str:
        """The secret a credential reference row points at.

        Raises:
            CredentialError: unknown or unsupported store, missing retrieval parameters, or the store
                has no such secret.
        """
        ref_id = str(reference.get("id"))
        kind = reference.get("type")
        if kind == "env":
            secret = self._lookup(ref_id, _key(reference), self._environment, "environment variable")
        elif kind == "memory":
            secret = self._lookup(ref_id, _key(reference), {**self._environment, **self._values}, "in-memory key")
        elif kind == "nango":
            secret = await self._nango(ref_id, _params(reference))
        elif kind == "keychain":
            msg = f"Credential '{ref_id}' uses a keychain store, which this runtime does not support; use env or nango."
            raise CredentialError(msg, credential_id=ref_id)
        else:
            msg = f"Credential '{ref_id}' has type {kind!r}; expected one of env, memory, nango."
            raise CredentialError(msg, credential_id=ref_id)
        if "\r" in secret or "\n" in secret:
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

    async def _nango(self, ref_id: str, params: Mapping[str, Any]) -> str:
        connection, provider = params.get("connectionId"), params.get("providerConfigKey")
        if not isinstance(connection, str) or not isinstance(provider, str) or not connection or not provider:
            msg = f"Credential '{ref_id}' needs retrievalParams connectionId and providerConfigKey (strings) for Nango."
            raise CredentialError(msg, credential_id=ref_id)
        if self._http is None or not self._nango_secret_key:
            msg = f"Credential '{ref_id}' is stored in Nango, but NANGO_SECRET_KEY is not configured."
            raise CredentialError(msg, credential_id=ref_id)
        cache_key = json.dumps([ref_id, connection, provider])
        cached = self._cache.get(cache_key)
        now = self._clock()
        if cached is not None and cached[1] > now:
            return cached[0]
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
        return token

    async def _fetch_nango(self, ref_id: str, connection: str, provider: str, where: str) -> Any:
        assert self._http is not None
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
