"""The OAuth 2.1 client side of an MCP login: PKCE, dynamic client registration and the token endpoint.

- PKCE (RFC 7636) with S256 only; a server that advertises challenge methods without S256 is refused.
- Dynamic client registration (RFC 7591) as a confidential client when the server allows
  `client_secret_post` (the runtime is a server and can keep a secret), else a public client
  (`none`), else `client_secret_basic`. Registrations are cached by the caller.
- Token requests (RFC 6749 §4.1.3 and §6) send the RFC 8707 `resource` indicator when known. An error
  answer is reported with its OAuth `error` code and description, never with the request's secrets.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx
from mcp.shared.auth import OAuthClientInformationFull
from mcp.shared.auth import OAuthToken as TokenResponse
from pydantic import ValidationError

from inkeep_runtime.oauth.errors import OAuthError
from inkeep_runtime.oauth.metadata import AuthServer
from inkeep_runtime.settings import is_loopback_host

__all__ = [
    "CLIENT_NAME",
    "Registration",
    "TokenSet",
    "authorization_url",
    "exchange_code",
    "new_pkce_pair",
    "new_state",
    "refresh_tokens",
    "register_client",
]

CLIENT_NAME: Final = "Inkeep Runtime"
_AUTH_METHOD_PREFERENCE: Final = ("client_secret_post", "none", "client_secret_basic")


@dataclass(frozen=True, slots=True, kw_only=True)
class Registration:
    """A client registered with one authorization server for one redirect URI."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    auth_method: str = "none"
    """`token_endpoint_auth_method`: `client_secret_post`, `client_secret_basic` or `none`."""
    secret_expires_at: int | None = None
    """Epoch seconds after which the client secret is no longer valid (None or 0: never)."""

    def is_expired(self, now: float) -> bool:
        """Whether the client secret has expired (then the client must register again)."""
        return bool(self.secret_expires_at) and self.secret_expires_at is not None and self.secret_expires_at <= now


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSet:
    """What a token endpoint answered."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"
    expires_at: float | None = None
    """Epoch seconds (from `expires_in`); None when the server did not say."""
    scope: str | None = None


def new_state() -> str:
    """A fresh `state` (256 random bits): the one-time capability that ties the callback to the login."""
    return secrets.token_urlsafe(32)


def new_pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier (86 characters) and its S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(server: AuthServer, *, client_id: str, redirect_uri: str, state: str, code_challenge: str) -> str:
    """Where to send the browser (RFC 6749 §4.1.1 with PKCE and the resource indicator).

    Raises:
        OAuthError: the server does not support S256 PKCE.
    """
    if server.code_challenge_methods is not None and "S256" not in server.code_challenge_methods:
        msg = f"Authorization server {server.issuer} does not support PKCE with S256, which OAuth 2.1 requires."
        raise OAuthError(msg)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if server.scope:
        params["scope"] = server.scope
    if server.resource:
        params["resource"] = server.resource
    separator = "&" if urlsplit(server.authorization_endpoint).query else "?"
    return f"{server.authorization_endpoint}{separator}{urlencode(params)}"


async def register_client(http: httpx.AsyncClient, server: AuthServer, *, redirect_uri: str) -> Registration:
    """Register a client dynamically (RFC 7591).

    Raises:
        OAuthError: the server has no registration endpoint, or refused or garbled the registration.
    """
    if server.registration_endpoint is None:
        msg = (
            f"Authorization server {server.issuer} does not support dynamic client registration "
            "(its metadata has no registration_endpoint)."
        )
        raise OAuthError(msg)
    supported = server.token_auth_methods
    method = next((m for m in _AUTH_METHOD_PREFERENCE if supported is None or m in supported), "client_secret_basic")
    body: dict[str, Any] = {
        "client_name": CLIENT_NAME,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "application_type": "native" if is_loopback_host(urlsplit(redirect_uri).hostname or "") else "web",
    }
    if server.scope:
        body["scope"] = server.scope
    try:
        response = await http.post(server.registration_endpoint, json=body, headers={"accept": "application/json"})
    except httpx.HTTPError as exc:
        msg = f"Client registration at {server.registration_endpoint} failed ({type(exc).__name__})."
        raise OAuthError(msg) from None
    if response.status_code not in (200, 201):
        msg = f"Client registration at {server.registration_endpoint} was refused: {_oauth_error(response)}."
        raise OAuthError(msg)
    try:
        info = OAuthClientInformationFull.model_validate_json(response.content)
    except ValidationError:
        msg = f"Client registration at {server.registration_endpoint} answered an invalid document (RFC 7591 §3.2)."
        raise OAuthError(msg) from None
    return Registration(
        client_id=info.client_id,
        client_secret=info.client_secret,
        auth_method=info.token_endpoint_auth_method or ("client_secret_basic" if info.client_secret else "none"),
        secret_expires_at=info.client_secret_expires_at,
    )


async def exchange_code(
    http: httpx.AsyncClient,
    token_endpoint: str,
    client: Registration,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    resource: str | None,
) -> TokenSet:
    """Trade an authorization code for tokens (RFC 6749 §4.1.3, RFC 7636 §4.5).

    Raises:
        OAuthError: the token endpoint refused the code or answered something unusable.
    """
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    if resource:
        form["resource"] = resource
    return await _token_request(http, token_endpoint, client, form)


async def refresh_tokens(
    http: httpx.AsyncClient,
    token_endpoint: str,
    client: Registration,
    *,
    refresh_token: str,
    resource: str | None,
    scope: str | None,
) -> TokenSet:
    """Get a new access token with a refresh token (RFC 6749 §6); the old refresh token is kept if none is sent.

    Raises:
        OAuthError: the token endpoint refused the refresh token or answered something unusable.
    """
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if resource:
        form["resource"] = resource
    if scope:
        form["scope"] = scope
    tokens = await _token_request(http, token_endpoint, client, form)
    if tokens.refresh_token is None:
        return TokenSet(
            access_token=tokens.access_token,
            refresh_token=refresh_token,
            token_type=tokens.token_type,
            expires_at=tokens.expires_at,
            scope=tokens.scope or scope,
        )
    return tokens


async def _token_request(
    http: httpx.AsyncClient, token_endpoint: str, client: Registration, form: dict[str, str]
) -> TokenSet:
    headers = {"accept": "application/json"}
    auth: httpx.Auth | httpx._client.UseClientDefault = httpx.USE_CLIENT_DEFAULT
    form = {**form, "client_id": client.client_id}
    if client.auth_method == "client_secret_post" and client.client_secret:
        form["client_secret"] = client.client_secret
    elif client.auth_method == "client_secret_basic" and client.client_secret:
        auth = httpx.BasicAuth(client.client_id, client.client_secret)
    grant = form["grant_type"]
    try:
        response = await http.post(token_endpoint, data=form, headers=headers, auth=auth)
    except httpx.HTTPError as exc:
        msg = f"The {grant} request to {token_endpoint} failed ({type(exc).__name__})."
        raise OAuthError(msg) from None
    if response.status_code != 200:
        msg = f"The token endpoint {token_endpoint} refused the {grant} grant: {_oauth_error(response)}."
        raise OAuthError(msg, oauth_error=_error_code(response))
    issued_at = time.time()
    try:
        token = TokenResponse.model_validate_json(response.content)
    except ValidationError:
        msg = f"The token endpoint {token_endpoint} answered the {grant} grant with an unusable token (not Bearer)."
        raise OAuthError(msg) from None
    return TokenSet(
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        token_type=token.token_type,
        expires_at=issued_at + token.expires_in if token.expires_in is not None else None,
        scope=token.scope,
    )


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


def _oauth_error(response: httpx.Response) -> str:
    """`HTTP 400 invalid_grant (description)` from an OAuth error answer (RFC 6749 §5.2)."""
    text = f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return text
    if not isinstance(body, dict):
        return text
    error, description = body.get("error"), body.get("error_description")
    if isinstance(error, str):
        text += f" {error[:100]}"
    if isinstance(description, str) and description:
        text += f" ({description[:200]})"
    return text
