"""Access tokens of `oauth` credential references, refreshed before they expire.

`OAuthTokens.access_token(reference)` is what `CredentialResolver` asks for a credential of type
`oauth`. It reads the stored tokens and returns the access token while it has more than
`refresh_margin_s` to live; otherwise it refreshes first:

- **Single flight**: concurrent callers for the same credential share one refresh (a per-credential
  `anyio.Lock`; whoever waited re-reads the row and finds the new token).
- **Several processes**: the new tokens are written only if the row still holds the token this process
  started from. If another process refreshed first (and the authorization server therefore refused our
  rotated-away refresh token), the row is re-read and its token used.
- An expired token without a refresh token, or a refused refresh, is a `CredentialError` telling the
  operator to log in again; the tokens themselves never appear in messages or logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import httpx

from inkeep_runtime.credentials import CredentialError, Secret
from inkeep_runtime.oauth.client import Registration, refresh_tokens
from inkeep_runtime.oauth.errors import OAuthError
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.oauth_records import OAuthRecords, TokenRecord
from inkeep_runtime.store.rows import Scope

__all__ = ["OAuthTokens"]

logger = logging.getLogger(__name__)

_RACE_WAIT_S = 2.0
"""How long a refused refresh looks for tokens another process is storing (see `_refreshed_elsewhere`)."""


class OAuthTokens:
    """The `oauth` credential store: tokens kept in the database, refreshed on demand."""

    def __init__(
        self,
        store: Store,
        http: httpx.AsyncClient,
        *,
        refresh_margin_s: float = 60.0,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create the store.

        Args:
            store: the database holding `oauth_tokens`.
            http: client for the token endpoint.
            refresh_margin_s: refresh when the access token has less than this left to live.
            timeout_s: longest wait for the token endpoint.
            clock: wall clock in epoch seconds.
        """
        self._records = OAuthRecords(store)
        self._http = http
        self._margin_s = refresh_margin_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._locks: dict[tuple[str, str, str], anyio.Lock] = {}
        self.refreshes = 0
        """How many refreshes this process performed (for tests and metrics)."""

    async def access_token(self, reference: Mapping[str, Any]) -> Secret:
        """A usable access token for the credential reference row `reference`, refreshed if due.

        Raises:
            CredentialError: no tokens are stored, or they expired and cannot be refreshed.
        """
        ref_id = str(reference.get("id"))
        scope = Scope(str(reference.get("tenant_id")), str(reference.get("project_id")))
        record = await self._stored(scope, ref_id)
        if not self._is_due(record):
            return self._secret(record)
        key = (scope.tenant_id, scope.project_id or "", ref_id)
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            record = await self._stored(scope, ref_id)  # a caller we waited for may have refreshed it
            if not self._is_due(record):
                return self._secret(record)
            return self._secret(await self._refresh(record))

    def _is_due(self, record: TokenRecord) -> bool:
        if record.expires_at is None:
            return False
        left = record.expires_at - self._clock()
        return left <= self._margin_s

    def _secret(self, record: TokenRecord) -> Secret:
        valid_until = None if record.expires_at is None else record.expires_at - self._margin_s
        return Secret(value=record.access_token, valid_until=valid_until)

    async def _stored(self, scope: Scope, ref_id: str) -> TokenRecord:
        record = await self._records.tokens(scope, ref_id)
        if record is None:
            msg = f"Credential '{ref_id}' has no OAuth tokens stored; log in with GET .../tools/{{id}}/oauth-login."
            raise CredentialError(msg, credential_id=ref_id)
        return record

    async def _refreshed_elsewhere(self, record: TokenRecord, *, wait: bool) -> TokenRecord | None:
        """The tokens another process stored since `record` was read, if any.

        A refresh refused because another process just rotated the refresh token: that process may still be
        storing its new tokens, so look again for a moment before calling the refresh failed.
        """
        deadline = anyio.current_time() + (_RACE_WAIT_S if wait else 0.0)
        while True:
            fresh = await self._records.tokens(record.scope, record.credential_id)
            if fresh is not None and fresh.access_token != record.access_token:
                return fresh
            if anyio.current_time() >= deadline:
                return None
            await anyio.sleep(0.05)

    async def _refresh(self, record: TokenRecord) -> TokenRecord:
        ref_id = record.credential_id
        expired = record.expires_at is not None and record.expires_at <= self._clock()
        if record.refresh_token is None:
            if not expired:
                return record  # nearly expired but still usable, and nothing to refresh it with
            msg = f"The OAuth access token of credential '{ref_id}' expired and has no refresh token; log in again."
            raise CredentialError(msg, credential_id=ref_id)
        client = Registration(
            client_id=record.client.client_id,
            client_secret=record.client.client_secret,
            auth_method=record.client.auth_method,
        )
        try:
            with anyio.fail_after(self._timeout_s):
                tokens = await refresh_tokens(
                    self._http,
                    record.token_endpoint,
                    client,
                    refresh_token=record.refresh_token,
                    resource=record.resource,
                    scope=record.oauth_scope,
                )
        except (OAuthError, TimeoutError) as exc:
            reason = exc.detail if isinstance(exc, OAuthError) else f"no answer within {self._timeout_s:g} s"
            fresh = await self._refreshed_elsewhere(record, wait=isinstance(exc, OAuthError))
            if fresh is not None:
                return fresh  # another process refreshed first
            if not expired:
                logger.warning("OAuth refresh of credential '%s' failed (%s); using the current token", ref_id, reason)
                return record
            msg = (
                f"The OAuth access token of credential '{ref_id}' expired and could not be refreshed ({reason}); "
                "log in again."
            )
            raise CredentialError(msg, credential_id=ref_id) from None
        self.refreshes += 1
        refreshed = TokenRecord(
            scope=record.scope,
            credential_id=ref_id,
            tool_id=record.tool_id,
            client=record.client,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            token_type=tokens.token_type,
            oauth_scope=tokens.scope or record.oauth_scope,
            expires_at=tokens.expires_at,
            token_endpoint=record.token_endpoint,
            resource=record.resource,
        )
        if not await self._records.replace_tokens(refreshed, previous_access_token=record.access_token):
            logger.info("OAuth tokens of credential '%s' were replaced meanwhile; using the stored ones", ref_id)
            return await self._stored(record.scope, ref_id)
        logger.info("refreshed the OAuth access token of credential '%s'", ref_id)
        return refreshed
