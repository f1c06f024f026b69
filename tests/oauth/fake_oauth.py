"""A real OAuth-protected MCP server on loopback: the `mcp` SDK's authorization server and resource server in one.

`serve_oauth_mcp()` runs an `MCPServer` with an in-memory `OAuthAuthorizationServerProvider`, so the
SDK's own handlers do the protocol work: protected-resource metadata (RFC 9728) at
`/.well-known/oauth-protected-resource/mcp`, authorization-server metadata (RFC 8414), dynamic client
registration (RFC 7591) at `/register`, `/authorize` (which approves at once, or refuses with
`access_denied` when `provider.deny` is set), and `/token`, which verifies the PKCE verifier against the
challenge and the client's secret. The MCP endpoint `/mcp` answers 401 with a `WWW-Authenticate`
challenge unless it gets a live access token issued for its resource. Refreshing rotates both tokens:
the old access token stops working at once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from tests.fakes.servers import serve
from tests.servers import free_port

__all__ = ["FakeAuthProvider", "OAuthMcpServer", "serve_oauth_mcp"]


@dataclass(slots=True)
class FakeAuthProvider:
    """In-memory authorization server state; tests read and steer it."""

    expires_in: int = 3600
    deny: bool = False
    clients: dict[str, OAuthClientInformationFull] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    grants: list[str] = field(default_factory=list)
    """Grant types served by `/token`, in order."""
    issued: list[str] = field(default_factory=list)
    """Every access and refresh token ever issued (to check that none leaks)."""

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if self.deny:
            return construct_redirect_uri(
                str(params.redirect_uri),
                error="access_denied",
                error_description="The user said no.",
                state=params.state,
            )
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            scopes=params.scopes or [],
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        self.codes[code.code] = code
        return construct_redirect_uri(str(params.redirect_uri), code=code.code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.grants.append("authorization_code")
        del self.codes[authorization_code.code]
        return self._issue(client.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh_tokens.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self.grants.append("refresh_token")
        del self.refresh_tokens[refresh_token.token]
        for token in [t for t, a in self.access_tokens.items() if a.client_id == client.client_id]:
            del self.access_tokens[token]  # rotation: the old access token dies with its refresh token
        return self._issue(client.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access_tokens.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access_tokens.pop(token.token, None)
        self.refresh_tokens.pop(token.token, None)

    def expire_access_tokens(self) -> None:
        """Make every issued access token invalid (as if its lifetime had passed)."""
        self.access_tokens.clear()

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = f"at-{secrets.token_urlsafe(16)}", f"rt-{secrets.token_urlsafe(16)}"
        expires_at = int(time.time()) + self.expires_in
        self.access_tokens[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=expires_at, resource=resource
        )
        self.refresh_tokens[refresh] = RefreshToken(
            token=refresh, client_id=client_id, scopes=scopes, resource=resource
        )
        self.issued += [access, refresh]
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self.expires_in,
            refresh_token=refresh,
            scope=" ".join(scopes) or None,
        )


@dataclass(slots=True)
class OAuthMcpServer:
    """A running OAuth-protected MCP server."""

    base_url: str
    url: str
    """The MCP endpoint (`<base>/mcp`)."""
    provider: FakeAuthProvider


@asynccontextmanager
async def serve_oauth_mcp(provider: FakeAuthProvider | None = None) -> AsyncIterator[OAuthMcpServer]:
    """Serve an OAuth-protected MCP server with tools `echo(text)` and `whoami()` (the bearer's client id)."""
    provider = provider or FakeAuthProvider()
    port = free_port()  # the issuer URL must be known before the server starts
    base = f"http://127.0.0.1:{port}"
    server = MCPServer(
        "oauth-mcp",
        version="0.0.1",
        auth_server_provider=provider,  # type: ignore[arg-type]
        auth=AuthSettings(
            issuer_url=base,  # type: ignore[arg-type]
            resource_server_url=f"{base}/mcp",  # type: ignore[arg-type]
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=["tools"], default_scopes=["tools"]
            ),
            required_scopes=["tools"],
            validate_token_resource=True,
        ),
    )

    @server.tool()
    async def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    async def whoami(ctx: Context) -> str:
        """Which client's token this call carried."""
        token = str((ctx.headers or {}).get("authorization", "")).removeprefix("Bearer ")
        found = provider.access_tokens.get(token)
        return found.client_id if found else "nobody"

    async with serve(server.streamable_http_app(), port=port, grace_s=1) as url:
        yield OAuthMcpServer(base_url=url, url=f"{url}/mcp", provider=provider)
