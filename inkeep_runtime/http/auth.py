"""Run-API authentication: verifying `Authorization: Bearer sk_…` API keys.

A key names its row by public id (one indexed read); the whole key is then checked against the stored
salted scrypt hash, off the event loop, in a thread bounded by a `CapacityLimiter` (scrypt takes ~50 ms of
CPU and 16 MiB per check). Two deliberate divergences from the Inkeep framework keep the per-request
cost down:

- **Verification cache.** A successful check is remembered for `cache_ttl_s` (30 s by default), keyed by
  the SHA-256 of the full key, so a client's following requests skip scrypt. Failures are never cached.
  The cache is per process and cannot be told about deletions or new expiry dates made elsewhere, so a
  deleted or shortened key can keep working here for up to `cache_ttl_s`; the expiry date itself is
  re-checked on every request.
- **Throttled `lastUsedAt`.** The original writes `lastUsedAt` on every request; here it is written at
  most once per key per `last_used_interval_s` (60 s by default) per process. `updatedAt` is left
  alone: being used is not being edited.

Every failure after parsing says only "Invalid or expired API key", whether the key is unknown, has the
wrong secret, has expired, or belongs to another tenant, project or graph, so a caller learns nothing
about keys it does not hold.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import anyio
import anyio.to_thread
import sqlalchemy as sa

from inkeep_runtime.errors import Unauthorized
from inkeep_runtime.keys import check_api_key, parse_api_key
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import KINDS, Rows, Scope, utc_now

__all__ = [
    "INVALID_FORMAT",
    "INVALID_KEY",
    "MISSING_HEADER",
    "ApiKeyIdentity",
    "ApiKeyVerifier",
    "bearer_token",
]

logger = logging.getLogger(__name__)

MISSING_HEADER: Final = "Missing or invalid authorization header. Expected: Bearer <api_key>"
INVALID_FORMAT: Final = "Invalid API key format"
INVALID_KEY: Final = "Invalid or expired API key"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyIdentity:
    """Whom a verified key speaks for."""

    tenant_id: str
    project_id: str
    graph_id: str
    key_id: str
    """The `id` of the API key row (not its public id)."""


@dataclass(frozen=True, slots=True)
class _Verified:
    identity: ApiKeyIdentity
    expires_at: datetime | None
    cached_until: float
    """`clock()` value after which the entry must be checked against the store again."""


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header.

    Raises:
        Unauthorized: the header is missing, not a Bearer header, or has no token.
    """
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(MISSING_HEADER)
    return token


def _expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ApiKeyVerifier:
    """Checks API keys against the store, with a short-lived cache and throttled `lastUsedAt` writes.

    One instance serves the whole app. Its two dictionaries are only touched on the event-loop thread and
    never across an `await` between reading and writing them, so they need no lock: in particular the
    `lastUsedAt` slot is claimed before the write is awaited, so concurrent requests write once.
    """

    def __init__(
        self,
        store: Store,
        *,
        last_used_interval_s: float = 60.0,
        cache_ttl_s: float = 30.0,
        cache_size: int = 10_000,
        hash_threads: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._last_used_interval_s = last_used_interval_s
        self._cache_ttl_s = cache_ttl_s
        self._cache_size = cache_size
        self._clock = clock
        self._limiter = anyio.CapacityLimiter(hash_threads)
        self._verified: dict[bytes, _Verified] = {}
        self._last_written: dict[str, float] = {}

    def forget_key(self, key_id: str) -> None:
        """Drop cached verifications of one key (after it was deleted or changed through this process)."""
        for digest in [d for d, entry in self._verified.items() if entry.identity.key_id == key_id]:
            del self._verified[digest]

    async def verify(self, key: str, *, tenant_id: str, project_id: str, graph_id: str) -> ApiKeyIdentity:
        """Check that `key` is a live key of this tenant, project and graph.

        Raises:
            Unauthorized: the key is empty, malformed, unknown, wrong, expired or scoped elsewhere.
        """
        if not key:
            raise Unauthorized(MISSING_HEADER)
        public_id = parse_api_key(key)
        if public_id is None:
            raise Unauthorized(INVALID_FORMAT)
        fingerprint = hashlib.sha256(key.encode()).digest()
        verified = self._cached(fingerprint) or await self._load(key, public_id, Scope(tenant_id, project_id))
        if verified is None:
            raise Unauthorized(INVALID_KEY)
        self._remember(fingerprint, verified)
        identity = verified.identity
        if (identity.tenant_id, identity.project_id, identity.graph_id) != (tenant_id, project_id, graph_id):
            raise Unauthorized(INVALID_KEY)
        if verified.expires_at is not None and verified.expires_at <= datetime.now(UTC):
            raise Unauthorized(INVALID_KEY)
        await self._record_use(identity)
        return identity

    def _cached(self, fingerprint: bytes) -> _Verified | None:
        found = self._verified.get(fingerprint)
        if found is not None and found.cached_until <= self._clock():
            del self._verified[fingerprint]
            return None
        return found

    def _remember(self, fingerprint: bytes, verified: _Verified) -> None:
        if fingerprint in self._verified:
            return
        if len(self._verified) >= self._cache_size:
            now = self._clock()
            self._verified = {k: v for k, v in self._verified.items() if v.cached_until > now}
            while len(self._verified) >= self._cache_size:  # still full: drop the oldest entries
                del self._verified[next(iter(self._verified))]
        self._verified[fingerprint] = verified

    async def _load(self, key: str, public_id: str, scope: Scope) -> _Verified | None:
        async with self._store.read() as session:
            found = await Rows(session).find("api_keys", scope, public_id=public_id)
        if not found:
            return None
        row = found[0]
        is_match = await anyio.to_thread.run_sync(check_api_key, key, row["key_hash"], limiter=self._limiter)
        if not is_match:
            return None
        identity = ApiKeyIdentity(
            tenant_id=row["tenant_id"], project_id=row["project_id"], graph_id=row["graph_id"], key_id=row["id"]
        )
        return _Verified(identity, _expiry(row["expires_at"]), self._clock() + self._cache_ttl_s)

    async def _record_use(self, identity: ApiKeyIdentity) -> None:
        now = self._clock()
        last = self._last_written.get(identity.key_id)
        if last is not None and now - last < self._last_used_interval_s:
            return
        self._last_written[identity.key_id] = now  # claimed before the await: concurrent requests skip
        table = KINDS["api_keys"]
        statement = (
            sa.update(table)
            .where(
                table.c.tenant_id == identity.tenant_id,
                table.c.project_id == identity.project_id,
                table.c.id == identity.key_id,
            )
            .values(last_used_at=utc_now())
        )
        scope = Scope(identity.tenant_id, identity.project_id)
        try:
            async with self._store.write(scope.key) as session:
                await session.execute(statement)
        except Exception:  # bookkeeping only: a failed write must not fail the request
            logger.warning("could not record the use of API key %s", identity.key_id, exc_info=True)
