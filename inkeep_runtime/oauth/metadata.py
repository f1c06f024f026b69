"""Find the OAuth authorization server of an MCP server (MCP authorization spec, 2025-06-18 and later).

1. Probe the MCP endpoint without credentials. A 401 carries `WWW-Authenticate: Bearer
   resource_metadata="...", scope="..."` (RFC 9728 §5.1, RFC 6750 §3).
2. Fetch the protected-resource metadata (RFC 9728): the URL from the challenge, then
   `/.well-known/oauth-protected-resource{path}`, then `/.well-known/oauth-protected-resource`.
   It names the authorization server(s) and the canonical `resource` (RFC 8707 indicator).
3. Fetch the authorization server metadata (RFC 8414, with the OpenID Connect discovery fallbacks);
   its `issuer` must be the server named by the resource metadata (RFC 8414 §3.3). A server without
   resource metadata is looked up the 2025-03-26 way: `/.well-known/oauth-authorization-server` on the
   MCP server's origin.

Redirects are not followed (a metadata document must be served where it is looked for), every request
is bounded by the HTTP client's timeout, and only the JSON models of the `mcp` SDK are reused: its
OAuth client is built for a desktop app that waits for its own callback, not for a web redirect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
from pydantic import ValidationError

from inkeep_runtime.oauth.errors import OAuthError

__all__ = ["AuthServer", "discover"]

_PROTOCOL_VERSION: Final = "2025-11-25"
_INITIALIZE: Final = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": _PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "inkeep-runtime", "version": "0.1.0"},
    },
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthServer:
    """What a login needs to know about the authorization server guarding one MCP server."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None
    token_auth_methods: tuple[str, ...] | None
    """`token_endpoint_auth_methods_supported` (None: not advertised)."""
    code_challenge_methods: tuple[str, ...] | None
    scope: str | None
    """Scopes to ask for: the challenge's, else the resource's, else the server's (None: omit)."""
    resource: str | None
    """The RFC 8707 resource indicator (the protected resource metadata's `resource`)."""


async def discover(http: httpx.AsyncClient, server_url: str, *, transport: str = "streamable_http") -> AuthServer:
    """The authorization server of the MCP server at `server_url`.

    Raises:
        OAuthError: the server advertises no usable OAuth metadata, or a metadata document is invalid.
    """
    challenge = await _challenge(http, server_url, transport)
    resource_url, challenge_scope = _field(challenge, "resource_metadata"), _field(challenge, "scope")
    resource = await _resource_metadata(http, _resource_metadata_urls(resource_url, server_url))
    issuer = str(resource.authorization_servers[0]) if resource is not None else None
    metadata = await _server_metadata(http, server_url, issuer)
    if metadata is None:
        where = f"authorization server {issuer}" if issuer else f"MCP server {server_url}"
        msg = f"No OAuth authorization server metadata was found for {where} (RFC 8414 well-known URLs)."
        raise OAuthError(msg)
    if issuer is not None and not _same_issuer(str(metadata.issuer), issuer):
        msg = f"Authorization server metadata names issuer {metadata.issuer}, not {issuer} (RFC 8414 §3.3)."
        raise OAuthError(msg)
    scope = challenge_scope
    if scope is None and resource is not None and resource.scopes_supported:
        scope = " ".join(resource.scopes_supported)
    if scope is None and metadata.scopes_supported:
        scope = " ".join(metadata.scopes_supported)
    return AuthServer(
        issuer=str(metadata.issuer),
        authorization_endpoint=str(metadata.authorization_endpoint),
        token_endpoint=str(metadata.token_endpoint),
        registration_endpoint=str(metadata.registration_endpoint) if metadata.registration_endpoint else None,
        token_auth_methods=_tuple(metadata.token_endpoint_auth_methods_supported),
        code_challenge_methods=_tuple(metadata.code_challenge_methods_supported),
        scope=scope,
        resource=str(resource.resource) if resource is not None else None,
    )


async def _challenge(http: httpx.AsyncClient, server_url: str, transport: str) -> str | None:
    """The `WWW-Authenticate` header of an unauthenticated request to the MCP endpoint (None without a 401)."""
    headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": _PROTOCOL_VERSION}
    try:
        if transport == "sse":
            request = http.build_request("GET", server_url, headers={**headers, "accept": "text/event-stream"})
        else:
            request = http.build_request("POST", server_url, headers=headers, json=_INITIALIZE)
        response = await http.send(request, stream=True)
        await response.aclose()  # only the status and headers matter; an SSE body would never end
    except httpx.HTTPError as exc:
        msg = f"MCP server {server_url} could not be reached to discover its OAuth settings ({type(exc).__name__})."
        raise OAuthError(msg) from None
    if response.status_code != 401:
        return None
    challenge: str | None = response.headers.get("www-authenticate")
    return challenge


def _field(challenge: str | None, name: str) -> str | None:
    if not challenge:
        return None
    match = re.search(rf'(?:^|[\s,]){name}=(?:"([^"]*)"|([^\s,]+))', challenge)
    return (match.group(1) or match.group(2)) if match else None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


def _resource_metadata_urls(from_challenge: str | None, server_url: str) -> list[str]:
    origin, path = _origin(server_url)
    urls = [from_challenge] if from_challenge else []
    if path:
        urls.append(f"{origin}/.well-known/oauth-protected-resource{path}")
    urls.append(f"{origin}/.well-known/oauth-protected-resource")
    return list(dict.fromkeys(urls))


def _server_metadata_urls(issuer: str) -> list[str]:
    origin, path = _origin(issuer)
    if not path:
        return [f"{origin}/.well-known/oauth-authorization-server", f"{origin}/.well-known/openid-configuration"]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


async def _resource_metadata(http: httpx.AsyncClient, urls: list[str]) -> ProtectedResourceMetadata | None:
    for url in urls:
        body = await _get(http, url)
        if body is None:
            continue
        try:
            return ProtectedResourceMetadata.model_validate_json(body)
        except ValidationError:
            msg = f"Protected resource metadata at {url} is invalid (RFC 9728)."
            raise OAuthError(msg) from None
    return None


async def _server_metadata(http: httpx.AsyncClient, server_url: str, issuer: str | None) -> OAuthMetadata | None:
    urls = (
        _server_metadata_urls(issuer)
        if issuer
        else [f"{_origin(server_url)[0]}/.well-known/oauth-authorization-server"]
    )
    for url in urls:
        body = await _get(http, url)
        if body is None:
            continue
        try:
            return OAuthMetadata.model_validate_json(body)
        except ValidationError:
            msg = f"Authorization server metadata at {url} is invalid (RFC 8414)."
            raise OAuthError(msg) from None
    return None


async def _get(http: httpx.AsyncClient, url: str) -> bytes | None:
    """The body of a 200 answer; None when the document is not served there (4xx, 3xx)."""
    try:
        response = await http.get(
            url, headers={"accept": "application/json", "mcp-protocol-version": _PROTOCOL_VERSION}
        )
    except httpx.HTTPError as exc:
        msg = f"OAuth metadata at {url} could not be fetched ({type(exc).__name__})."
        raise OAuthError(msg) from None
    if response.status_code == 200:
        return response.content
    if response.status_code >= 500:
        msg = f"OAuth metadata at {url} answered HTTP {response.status_code}."
        raise OAuthError(msg)
    return None


def _same_issuer(found: str, expected: str) -> bool:
    """Issuers compare as strings (RFC 8414 §3.3), except that a root issuer may end in one slash."""
    if found == expected:
        return True
    return found.rstrip("/") == expected.rstrip("/") and urlsplit(found).path in ("", "/")


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None
