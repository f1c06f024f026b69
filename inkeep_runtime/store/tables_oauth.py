"""SQLModel tables of MCP OAuth (migration `m006_oauth`). Never imported outside `inkeep_runtime.store`.

- `oauth_clients`: dynamic client registrations (RFC 7591), cached per authorization server and
  redirect URI, so a login does not register a new client each time.
- `oauth_states`: pending logins. The row id is the SHA-256 of the `state` sent to the browser (the
  state itself is a bearer capability and is never stored); it holds the PKCE verifier, the tool and
  an expiry, and is consumed exactly once by the callback.
- `oauth_tokens`: the tokens a login obtained, keyed by the credential reference that points at them
  (`type: "oauth"`); deleting the credential deletes its tokens.

Access tokens, refresh tokens, client secrets and PKCE verifiers are secrets: no API returns them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from inkeep_runtime.store.table_keys import ID_LENGTH as _ID
from inkeep_runtime.store.table_keys import project_fk, scoped_fk

__all__ = ["OAuthClient", "OAuthState", "OAuthToken"]


class OAuthClient(SQLModel, table=True):
    __tablename__ = "oauth_clients"
    __table_args__ = (project_fk("CASCADE"),)
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    """SHA-256 of (issuer, redirect URI): one registration per authorization server and callback."""
    issuer: str
    redirect_uri: str
    client_id: str
    client_secret: str | None = None
    token_endpoint_auth_method: str = Field(max_length=64)
    client_secret_expires_at: int | None = Field(default=None, sa_type=BigInteger)
    """Epoch seconds; None or 0: never."""
    created_at: str
    updated_at: str


class OAuthState(SQLModel, table=True):
    __tablename__ = "oauth_states"
    __table_args__ = (
        project_fk("CASCADE"),
        scoped_fk("tool_id", "tools", "CASCADE"),
        scoped_fk("client_ref", "oauth_clients", "CASCADE"),
        UniqueConstraint("id", name="uq_oauth_states_id"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    """SHA-256 (hex) of the state parameter; the callback finds the login by it alone."""
    tool_id: str = Field(max_length=_ID)
    client_ref: str = Field(max_length=_ID)
    code_verifier: str
    redirect_uri: str
    token_endpoint: str
    resource: str | None = None
    scope: str | None = None
    expires_at: str
    consumed_at: str | None = None
    """Set by the first callback that presents the state; a second one is refused (replay)."""
    created_at: str


class OAuthToken(SQLModel, table=True):
    __tablename__ = "oauth_tokens"
    __table_args__ = (
        project_fk("CASCADE"),
        scoped_fk("id", "credential_references", "CASCADE"),
        scoped_fk("client_ref", "oauth_clients", "CASCADE"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    """The credential reference these tokens belong to."""
    tool_id: str | None = Field(default=None, max_length=_ID)
    """The tool whose login obtained them (informational)."""
    client_ref: str = Field(max_length=_ID)
    access_token: str
    refresh_token: str | None = None
    token_type: str = Field(max_length=32)
    scope: str | None = None
    expires_at: str | None = None
    """When the access token expires (ISO-8601 UTC); None: the server did not say."""
    token_endpoint: str
    resource: str | None = None
    created_at: str
    updated_at: str
