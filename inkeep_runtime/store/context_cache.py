"""Read and write the context cache (`tables_context.ContextCacheEntry`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope, utc_now
from inkeep_runtime.store.tables_context import ContextCacheEntry

__all__ = ["REQUEST_KEY", "CachedValue", "ContextCacheStore"]

REQUEST_KEY: Final = "$request"
"""The row holding a conversation's last request context (no variable can have this key)."""
_CACHE: sa.Table = ContextCacheEntry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedValue:
    """A cached value and what it was fetched for."""

    value: Any
    request_hash: str
    definition_hash: str
    fetched_at: str


class ContextCacheStore:
    """The cached values of one conversation's context config."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _where(self, scope: Scope, conversation_id: str, config_id: str) -> list[sa.ColumnElement[bool]]:
        return [
            _CACHE.c.tenant_id == scope.tenant_id,
            _CACHE.c.project_id == scope.project_id,
            _CACHE.c.conversation_id == conversation_id,
            _CACHE.c.context_config_id == config_id,
        ]

    async def read(self, scope: Scope, conversation_id: str, config_id: str) -> dict[str, CachedValue]:
        """Every cached value of the conversation for this config, by variable key."""
        statement = sa.select(_CACHE).where(*self._where(scope, conversation_id, config_id))
        async with self._store.read() as session:
            rows = (await session.execute(statement)).mappings().all()
        return {
            row["variable_key"]: CachedValue(
                value=json.loads(row["value"]),
                request_hash=row["request_hash"],
                definition_hash=row["definition_hash"],
                fetched_at=row["fetched_at"],
            )
            for row in rows
        }

    async def write(
        self,
        scope: Scope,
        conversation_id: str,
        config_id: str,
        values: dict[str, tuple[Any, str, str]],
    ) -> None:
        """Store `{key: (value, request_hash, definition_hash)}`, replacing earlier values of those keys."""
        if not values:
            return
        now = utc_now()
        rows = [
            {
                "tenant_id": scope.tenant_id,
                "project_id": scope.project_id,
                "conversation_id": conversation_id,
                "context_config_id": config_id,
                "variable_key": key,
                "value": json.dumps(value, ensure_ascii=False, default=str),
                "request_hash": request_hash,
                "definition_hash": definition_hash,
                "fetched_at": now,
            }
            for key, (value, request_hash, definition_hash) in values.items()
        ]
        async with self._store.write(scope.key) as session:
            await session.execute(
                sa.delete(_CACHE).where(
                    *self._where(scope, conversation_id, config_id), _CACHE.c.variable_key.in_(sorted(values))
                )
            )
            await session.execute(sa.insert(_CACHE), rows)
