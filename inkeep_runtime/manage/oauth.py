"""MCP OAuth routes: `GET .../tools/{id}/oauth-login` starts a login, `GET /oauth/callback` completes it.

The login route is a CRUD route, so the admin token guards it like every other. It discovers the MCP
server's authorization server (`oauth/metadata.py`), registers a client dynamically (cached per
authorization server and redirect URI in `oauth_clients`), stores the pending login in `oauth_states`
(keyed by the SHA-256 of a fresh 256-bit `state`, holding the PKCE verifier, the tool and an expiry of
`STATE_TTL_S`), and redirects (302) to the authorization endpoint. With `?redirect=false` it answers the
URL as JSON instead, for a UI that calls it with the admin token and opens the URL in a popup.

The callback is reached by the user's browser, redirected by the authorization server, so it cannot
carry the admin token: **the state is the capability**. It is unguessable, bound to one tool, usable
once (a conditional update claims it, so a replayed or concurrent second callback fails) and expires.
A callback with an unknown, expired or already used state is a 400 `invalid_oauth_state` and changes
nothing. `error=access_denied` (or any other OAuth error) leaves the tool `needs_auth` with the reason in
`lastError` and is a 400 `oauth_denied`. Otherwise the code is exchanged (with the PKCE verifier), the
tokens are stored as credential `oauth-<toolId>` (type `oauth`, store `oauth-default`), the tool is linked
to it and marked healthy, and the answer is a small HTML page (browsers) or JSON (anything else). The
HTML page posts `{type: "oauth-success", toolId}` to `window.opener`, as Inkeep's does, and closes.

Tokens, codes, verifiers and client secrets are never returned or logged. The redirect URI is
`<INKEEP_PUBLIC_URL>/oauth/callback`, or, when that is unset, the login request's own base URL (set
`INKEEP_PUBLIC_URL` behind a proxy that rewrites the host or scheme).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import time
from typing import Any, Final

import anyio
from pydantic import ConfigDict, Field
from starlette.responses import HTMLResponse, RedirectResponse, Response

from inkeep_runtime.errors import Conflict, InvalidRequest, NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, project_scope, require_project
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope
from inkeep_runtime.mcp.spec import McpConfigError, spec_from_config
from inkeep_runtime.oauth.client import (
    Registration,
    authorization_url,
    exchange_code,
    new_pkce_pair,
    new_state,
    register_client,
)
from inkeep_runtime.oauth.errors import OAuthDenied, OAuthError, OAuthStateError
from inkeep_runtime.oauth.metadata import AuthServer, discover
from inkeep_runtime.store.oauth_records import ClientRecord, LoginRecord, OAuthRecords, StateRecord, epoch_to_iso
from inkeep_runtime.store.rows import Rows, Scope

__all__ = [
    "CALLBACK_PATH",
    "STATE_TTL_S",
    "OAuthCallbackQuery",
    "OAuthCallbackResult",
    "OAuthLogin",
    "OAuthLoginQuery",
    "endpoints",
    "state_key",
]

CALLBACK_PATH: Final = "/oauth/callback"
STATE_TTL_S: Final = 600.0
"""How long a started login may take (Inkeep's PKCE registry kept states 10 minutes too)."""
_LOGIN_TIMEOUT_S: Final = 30.0
"""Bound on discovery plus registration, and on the code exchange."""


class OAuthLoginQuery(ApiModel):
    """Query of `GET .../tools/{id}/oauth-login`."""

    model_config = ConfigDict(extra="forbid")

    redirect: bool = Field(default=True, description="false: answer the authorization URL as JSON instead of a 302.")


class OAuthLogin(ApiModel):
    """`data` of the login route with `?redirect=false`."""

    url: str
    """Where to send the browser (the authorization endpoint with every parameter)."""
    expires_at: str
    """When the login must be completed by."""


class OAuthCallbackQuery(ApiModel):
    """What the authorization server appends to the redirect URI (RFC 6749 §4.1.2)."""

    model_config = ConfigDict(extra="ignore")

    code: str | None = Field(default=None, min_length=1)
    state: str | None = Field(default=None, min_length=1)
    error: str | None = None
    error_description: str | None = Field(default=None, alias="error_description")


class OAuthCallbackResult(ApiModel):
    """`data` of a successful callback (JSON clients)."""

    tool_id: str
    credential_reference_id: str
    status: str


def state_key(state: str) -> str:
    """How a state is stored: its SHA-256 (the state itself is a bearer capability)."""
    return hashlib.sha256(state.encode()).hexdigest()


def _redirect_uri(call: Call) -> str:
    base = call.services.settings.public_url or str(call.request.base_url)
    return base.rstrip("/") + CALLBACK_PATH


async def _tool(call: Call) -> tuple[Scope, dict[str, Any]]:
    scope = project_scope(call)
    async with call.services.store.read() as session:
        rows = Rows(session)
        await require_project(rows, scope)
        row = await rows.get("tools", scope, call.path["id"])
    if row is None:
        msg = f"Tool '{call.path['id']}' does not exist in project '{scope.project_id}'."
        raise NotFound(msg)
    return scope, row


async def _registration(
    call: Call, records: OAuthRecords, scope: Scope, server: AuthServer, redirect_uri: str
) -> ClientRecord:
    """The cached client registration for this authorization server and redirect URI, registering if needed."""
    key = hashlib.sha256(f"{server.issuer}\n{redirect_uri}".encode()).hexdigest()
    cached = await records.client(scope, key)
    if cached is not None and not (cached.secret_expires_at and cached.secret_expires_at <= time.time()):
        return cached
    registration = await register_client(call.services.http, server, redirect_uri=redirect_uri)
    client = ClientRecord(
        key=key,
        issuer=server.issuer,
        redirect_uri=redirect_uri,
        client_id=registration.client_id,
        client_secret=registration.client_secret,
        auth_method=registration.auth_method,
        secret_expires_at=registration.secret_expires_at,
    )
    await records.save_client(scope, client)
    return client


async def oauth_login(call: Call) -> Any:
    """Start an OAuth login for a tool's MCP server: redirect to its authorization server."""
    scope, row = await _tool(call)
    tool_id = row["id"]
    if row["status"] == "disabled":
        msg = f"Tool '{tool_id}' is disabled; set its status (PATCH .../tools/{tool_id}/status) before logging in."
        raise Conflict(msg)
    try:
        spec = spec_from_config(row["config"], row["headers"])
    except McpConfigError as exc:
        msg = f"Tool '{tool_id}' cannot log in: {exc.detail}"
        raise Conflict(msg) from exc
    if spec.url is None:
        msg = f"Tool '{tool_id}' runs its MCP server over stdio; OAuth applies to HTTP servers only."
        raise Conflict(msg)
    records = OAuthRecords(call.services.store)
    redirect_uri = _redirect_uri(call)
    try:
        with anyio.fail_after(_LOGIN_TIMEOUT_S):
            server = await discover(call.services.http, spec.url, transport=spec.transport)
            client = await _registration(call, records, scope, server, redirect_uri)
    except TimeoutError:
        msg = f"OAuth discovery for MCP server {spec.url} did not finish within {_LOGIN_TIMEOUT_S:g} s."
        raise OAuthError(msg) from None
    state = new_state()
    verifier, challenge = new_pkce_pair()
    url = authorization_url(
        server, client_id=client.client_id, redirect_uri=redirect_uri, state=state, code_challenge=challenge
    )
    expires_at = time.time() + STATE_TTL_S
    pending = StateRecord(
        scope=scope,
        tool_id=tool_id,
        client=client,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        token_endpoint=server.token_endpoint,
        resource=server.resource,
        oauth_scope=server.scope,
    )
    await records.save_state(state_key(state), pending, expires_at=expires_at)
    if call.query.redirect:
        return RedirectResponse(url, status_code=302, headers={"cache-control": "no-store"})
    return {"data": OAuthLogin(url=url, expires_at=epoch_to_iso(expires_at)).model_dump(mode="json")}


async def oauth_callback(call: Call) -> Any:
    """Complete an OAuth login: exchange the code, store the tokens as a credential, mark the tool healthy."""
    query: OAuthCallbackQuery = call.query
    if query.state is None:
        msg = "The OAuth callback has no state parameter; start the login again (GET .../tools/{id}/oauth-login)."
        raise OAuthStateError(msg)
    records = OAuthRecords(call.services.store)
    outcome, pending = await records.consume_state(state_key(query.state), now=time.time())
    if outcome != "ok" or pending is None:
        raise OAuthStateError(_STATE_PROBLEMS[outcome])
    tool_id, scope = pending.tool_id, pending.scope
    if query.error is not None:
        reason = f"{query.error}: {query.error_description}" if query.error_description else query.error
        detail = f"The authorization server refused access for tool '{tool_id}' ({reason[:300]}); log in again."
        await records.mark_tool(scope, tool_id, status="needs_auth", error=detail)
        call.services.changed(scope)
        raise OAuthDenied(detail)
    if query.code is None:
        msg = "The OAuth callback has neither a code nor an error parameter."
        raise InvalidRequest(msg)
    client = Registration(
        client_id=pending.client.client_id,
        client_secret=pending.client.client_secret,
        auth_method=pending.client.auth_method,
    )
    try:
        with anyio.fail_after(_LOGIN_TIMEOUT_S):
            tokens = await exchange_code(
                call.services.http,
                pending.token_endpoint,
                client,
                code=query.code,
                code_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri,
                resource=pending.resource,
            )
    except (OAuthError, TimeoutError) as exc:
        detail = (
            exc.detail
            if isinstance(exc, OAuthError)
            else f"The token endpoint {pending.token_endpoint} did not answer."
        )
        await records.mark_tool(scope, tool_id, status="needs_auth", error=f"OAuth login failed: {detail}")
        call.services.changed(scope)
        raise OAuthError(detail) from None
    login = LoginRecord(
        credential_id=f"oauth-{tool_id}"[:255],
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_type=tokens.token_type,
        oauth_scope=tokens.scope or pending.oauth_scope,
        expires_at=tokens.expires_at,
    )
    tool = await records.complete_login(pending, login)
    if tool is None:
        msg = f"Tool '{tool_id}' was deleted before its OAuth login completed."
        raise NotFound(msg)
    call.services.changed(scope)
    result = OAuthCallbackResult(tool_id=tool_id, credential_reference_id=login.credential_id, status=tool["status"])
    if "text/html" in call.request.headers.get("accept", ""):
        return _success_page(result)
    return {"data": result.model_dump(mode="json")}


_STATE_PROBLEMS: Final = {
    "unknown": "The OAuth state is unknown; start the login again (GET .../tools/{id}/oauth-login).",
    "expired": f"The OAuth login expired (logins must complete within {STATE_TTL_S / 60:g} minutes); start it again.",
    "replayed": "The OAuth state was already used; each login can be completed once. Start the login again.",
}


def _success_page(result: OAuthCallbackResult) -> Response:
    message = json.dumps({"type": "oauth-success", "toolId": result.tool_id}).replace("<", "\\u003c")
    script = f"if (window.opener) {{ window.opener.postMessage({message}, '*'); window.close(); }}"
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    body = (
        "<!doctype html><html><head><meta charset=utf-8><title>Authorized</title></head><body>"
        f"<p>Tool <b>{html.escape(result.tool_id)}</b> is authorized. You can close this window.</p>"
        f"<script>{script}</script></body></html>"
    )
    headers = {
        "cache-control": "no-store",
        "content-security-policy": f"default-src 'none'; script-src 'sha256-{digest}'",
    }
    return HTMLResponse(body, headers=headers)


def endpoints() -> list[Endpoint]:
    """The OAuth login and callback routes."""
    return [
        Endpoint(
            method="GET",
            path=f"{PROJECT_PREFIX}/tools/{{id}}/oauth-login",
            summary="Initiate OAuth login for MCP tool",
            description=(
                "Discovers the MCP server's OAuth authorization server, registers a client dynamically and "
                "redirects (302) to the authorization endpoint with PKCE (S256). `?redirect=false` answers the "
                "authorization URL as JSON instead."
            ),
            handler=oauth_login,
            tag="Tools",
            query=OAuthLoginQuery,
            response=DataEnvelope[OAuthLogin],
            errors=(401, 404, 409, 502),
        ),
        Endpoint(
            method="GET",
            path=CALLBACK_PATH,
            summary="OAuth authorization callback",
            description=(
                "Where the authorization server sends the browser back. Authenticated by the one-time `state` "
                "(no admin token). Stores the tokens as credential `oauth-<toolId>` and marks the tool healthy; "
                "answers HTML to browsers, JSON otherwise."
            ),
            handler=oauth_callback,
            tag="Tools",
            query=OAuthCallbackQuery,
            response=DataEnvelope[OAuthCallbackResult],
            errors=(400, 404, 502),
        ),
    ]
