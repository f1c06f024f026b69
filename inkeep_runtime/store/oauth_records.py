"""MCP OAuth records: cached client registrations, pending logins (state) and obtained tokens.

The repository of `tables_oauth`, returning frozen values whose secret fields stay out of `repr`.
Pending logins are looked up by the SHA-256 of their `state` alone (the callback knows nothing else)
and are consumed with a conditional update, so two callbacks presenting the same state cannot both
succeed, even in two processes. Timestamps are stored as ISO-8601 UTC strings like every other table
and handed out as epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from inkeep_runtime.store import tables
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope, iso_utc, utc_now

__all__ = [
    "ClientRecord",
    "LoginRecord",
    "OAuthRecords",
    "StateOutcome",
    "StateRecord",
    "TokenRecord",
    "epoch_to_iso",
    "iso_to_epoch",
]

_CLIENTS: sa.Table = tables.OAuthClient.__table__  # type: ignore[attr-defined]
_STATES: sa.Table = tables.OAuthState.__table__  # type: ignore[attr-defined]
_TOKENS: sa.Table = tables.OAuthToken.__table__  # type: ignore[attr-defined]

StateOutcome = Literal["ok", "unknown", "expired", "replayed"]


def epoch_to_iso(seconds: float) -> str:
    """Epoch seconds as stored (ISO-8601 UTC with milliseconds and a `Z`)."""
    return iso_utc(datetime.fromtimestamp(seconds, UTC))


def iso_to_epoch(value: str) -> float:
    """A stored timestamp as epoch seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientRecord:
    """A dynamic client registration."""

    key: str
    issuer: str
    redirect_uri: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    auth_method: str = "none"
    secret_expires_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StateRecord:
    """A pending login, as started by `oauth-login`."""

    scope: Scope
    tool_id: str
    client: ClientRecord
    code_verifier: str = field(repr=False)
    redirect_uri: str
    token_endpoint: str
    resource: str | None = None
    oauth_scope: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    """Tokens stored for one credential reference."""

    scope: Scope
    credential_id: str
    tool_id: str | None
    client: ClientRecord
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"
    oauth_scope: str | None = None
    expires_at: float | None = None
    token_endpoint: str
    resource: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginRecord:
    """What a completed login stores: the tokens, and the credential reference the tool is linked to."""

    credential_id: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"
    oauth_scope: str | None = None
    expires_at: float | None = None


class OAuthRecords:
    """Reads and writes the OAuth tables."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def client(self, scope: Scope, key: str) -> ClientRecord | None:
        """The cached registration `key`, if any."""
        async with self._store.read() as session:
            row = (await session.execute(sa.select(_CLIENTS).where(*_where(_CLIENTS, scope, key)))).mappings().first()
        return _client(dict(row)) if row is not None else None

    async def save_client(self, scope: Scope, client: ClientRecord) -> None:
        """Store (or replace) a registration."""
        now = utc_now()
        values = {
            "issuer": client.issuer,
            "redirect_uri": client.redirect_uri,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "token_endpoint_auth_method": client.auth_method,
            "client_secret_expires_at": client.secret_expires_at,
            "updated_at": now,
        }
        async with self._store.write(scope.key) as session:
            updated = await session.execute(
                sa.update(_CLIENTS).where(*_where(_CLIENTS, scope, client.key)).values(**values)
            )
            if updated.rowcount == 0:  # type: ignore[attr-defined]
                await session.execute(
                    sa.insert(_CLIENTS).values(
                        tenant_id=scope.tenant_id, project_id=scope.project_id, id=client.key, created_at=now, **values
                    )
                )

    async def save_state(self, state_hash: str, record: StateRecord, *, expires_at: float) -> None:
        """Store a pending login (and drop this project's logins that expired over a day ago)."""
        now = utc_now()
        scope = record.scope
        async with self._store.write(scope.key) as session:
            stale = epoch_to_iso(datetime.now(UTC).timestamp() - 86_400)
            await session.execute(
                sa.delete(_STATES).where(
                    _STATES.c.tenant_id == scope.tenant_id,
                    _STATES.c.project_id == scope.project_id,
                    _STATES.c.expires_at < stale,
                )
            )
            await session.execute(
                sa.insert(_STATES).values(
                    tenant_id=scope.tenant_id,
                    project_id=scope.project_id,
                    id=state_hash,
                    tool_id=record.tool_id,
                    client_ref=record.client.key,
                    code_verifier=record.code_verifier,
                    redirect_uri=record.redirect_uri,
                    token_endpoint=record.token_endpoint,
                    resource=record.resource,
                    scope=record.oauth_scope,
                    expires_at=epoch_to_iso(expires_at),
                    created_at=now,
                )
            )

    async def consume_state(self, state_hash: str, *, now: float) -> tuple[StateOutcome, StateRecord | None]:
        """Claim a pending login once: `ok` with its record, else why not (`unknown`, `expired`, `replayed`).

        The record is returned for `expired` too (the caller may want to tell the tool).
        """
        async with self._store.read() as session:
            found = (await session.execute(sa.select(_STATES).where(_STATES.c.id == state_hash))).mappings().first()
        if found is None:
            return "unknown", None
        row = dict(found)
        scope = Scope(row["tenant_id"], row["project_id"])
        async with self._store.write(scope.key) as session:
            claimed = await session.execute(
                sa.update(_STATES)
                .where(*_where(_STATES, scope, state_hash), _STATES.c.consumed_at.is_(None))
                .values(consumed_at=utc_now())
            )
            client_row = (
                (await session.execute(sa.select(_CLIENTS).where(*_where(_CLIENTS, scope, row["client_ref"]))))
                .mappings()
                .first()
            )
        if claimed.rowcount == 0:  # type: ignore[attr-defined]
            return "replayed", None
        if client_row is None:  # the registration was replaced meanwhile; the login cannot complete
            return "unknown", None
        record = StateRecord(
            scope=scope,
            tool_id=row["tool_id"],
            client=_client(dict(client_row)),
            code_verifier=row["code_verifier"],
            redirect_uri=row["redirect_uri"],
            token_endpoint=row["token_endpoint"],
            resource=row["resource"],
            oauth_scope=row["scope"],
        )
        if iso_to_epoch(row["expires_at"]) <= now:
            return "expired", record
        return "ok", record

    async def tokens(self, scope: Scope, credential_id: str) -> TokenRecord | None:
        """The tokens stored for a credential reference, if any."""
        async with self._store.read() as session:
            found = (
                (await session.execute(sa.select(_TOKENS).where(*_where(_TOKENS, scope, credential_id))))
                .mappings()
                .first()
            )
            if found is None:
                return None
            client_row = (
                (await session.execute(sa.select(_CLIENTS).where(*_where(_CLIENTS, scope, found["client_ref"]))))
                .mappings()
                .one()
            )
        row = dict(found)
        return TokenRecord(
            scope=scope,
            credential_id=credential_id,
            tool_id=row["tool_id"],
            client=_client(dict(client_row)),
            access_token=row["access_token"],
            refresh_token=row["refresh_token"],
            token_type=row["token_type"],
            oauth_scope=row["scope"],
            expires_at=iso_to_epoch(row["expires_at"]) if row["expires_at"] else None,
            token_endpoint=row["token_endpoint"],
            resource=row["resource"],
        )

    async def replace_tokens(self, record: TokenRecord, *, previous_access_token: str) -> bool:
        """Store refreshed tokens unless another process replaced `previous_access_token` first."""
        async with self._store.write(record.scope.key) as session:
            updated = await session.execute(
                sa.update(_TOKENS)
                .where(
                    *_where(_TOKENS, record.scope, record.credential_id),
                    _TOKENS.c.access_token == previous_access_token,
                )
                .values(**_token_values(record), updated_at=utc_now())
            )
        return bool(updated.rowcount)  # type: ignore[attr-defined]

    async def complete_login(self, state: StateRecord, login: LoginRecord) -> dict[str, Any] | None:
        """Store a login's tokens as credential `login.credential_id`, link the tool to it, and mark the tool
        healthy; all in one transaction. The tool row as stored, or None when the tool no longer exists.
        """
        scope = state.scope
        now = utc_now()
        token = TokenRecord(
            scope=scope,
            credential_id=login.credential_id,
            tool_id=state.tool_id,
            client=state.client,
            access_token=login.access_token,
            refresh_token=login.refresh_token,
            token_type=login.token_type,
            oauth_scope=login.oauth_scope,
            expires_at=login.expires_at,
            token_endpoint=state.token_endpoint,
            resource=state.resource,
        )
        async with self._store.write(scope.key) as session:
            rows = Rows(session)
            if await rows.get("tools", scope, state.tool_id) is None:
                return None
            reference = {
                "type": "oauth",
                "credential_store_id": "oauth-default",
                "retrieval_params": {"toolId": state.tool_id},
            }
            if await rows.get("credential_references", scope, login.credential_id) is None:
                await rows.insert(
                    "credential_references", scope, {"id": login.credential_id, **reference}, label="Credential"
                )
            else:
                await rows.update("credential_references", scope, login.credential_id, reference, label="Credential")
            await session.execute(sa.delete(_TOKENS).where(*_where(_TOKENS, scope, login.credential_id)))
            await session.execute(
                sa.insert(_TOKENS).values(
                    tenant_id=scope.tenant_id,
                    project_id=scope.project_id,
                    id=login.credential_id,
                    created_at=now,
                    updated_at=now,
                    **_token_values(token),
                )
            )
            changes = {
                "credential_reference_id": login.credential_id,
                "status": "healthy",
                "last_error": None,
                "last_health_check": now,
            }
            return await rows.update("tools", scope, state.tool_id, changes, label="Tool")

    async def mark_tool(self, scope: Scope, tool_id: str, *, status: str, error: str) -> None:
        """Record why a login failed on the tool (`needs_auth` with the reason), unless it is disabled."""
        async with self._store.write(scope.key) as session:
            rows = Rows(session)
            row = await rows.get("tools", scope, tool_id)
            if row is None or row["status"] == "disabled":
                return
            changes = {"status": status, "last_error": error, "last_health_check": utc_now()}
            await rows.update("tools", scope, tool_id, changes, label="Tool")


def _where(table: sa.Table, scope: Scope, row_id: str) -> list[sa.ColumnElement[bool]]:
    return [table.c.tenant_id == scope.tenant_id, table.c.project_id == scope.project_id, table.c.id == row_id]


def _client(row: dict[str, Any]) -> ClientRecord:
    return ClientRecord(
        key=row["id"],
        issuer=row["issuer"],
        redirect_uri=row["redirect_uri"],
        client_id=row["client_id"],
        client_secret=row["client_secret"],
        auth_method=row["token_endpoint_auth_method"],
        secret_expires_at=row["client_secret_expires_at"],
    )


def _token_values(record: TokenRecord) -> dict[str, Any]:
    return {
        "tool_id": record.tool_id,
        "client_ref": record.client.key,
        "access_token": record.access_token,
        "refresh_token": record.refresh_token,
        "token_type": record.token_type,
        "scope": record.oauth_scope,
        "expires_at": epoch_to_iso(record.expires_at) if record.expires_at is not None else None,
        "token_endpoint": record.token_endpoint,
        "resource": record.resource,
    }
