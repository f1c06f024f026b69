"""Numbered schema migrations, recorded in the database.

Each migration is a function of a synchronous SQLAlchemy `Connection`, applied once and recorded in
`inkeep_migrations` in the same transaction, in order. This is the only place tables are created:
the server never calls `create_all` on the live models. On PostgreSQL an advisory lock lets several
runtime processes start at once without racing each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from inkeep_runtime.store import (
    m001_initial,
    m002_conversations,
    m003_a2a_tasks,
    m004_context_cache,
    m005_artifacts,
    m006_oauth,
    m007_query_logs,
    m008_tool_permissions,
    m009_analytics_indexes,
)

__all__ = ["MIGRATIONS", "applied_migrations", "migrate"]

logger = logging.getLogger(__name__)

Migration = Callable[[sa.Connection], None]

MIGRATIONS: Final[tuple[tuple[str, Migration], ...]] = (
    ("m001_initial", m001_initial.upgrade),
    ("m002_conversations", m002_conversations.upgrade),
    ("m003_a2a_tasks", m003_a2a_tasks.upgrade),
    ("m004_context_cache", m004_context_cache.upgrade),
    ("m005_artifacts", m005_artifacts.upgrade),
    ("m006_oauth", m006_oauth.upgrade),
    ("m007_query_logs", m007_query_logs.upgrade),
    ("m008_tool_permissions", m008_tool_permissions.upgrade),
    ("m009_analytics_indexes", m009_analytics_indexes.upgrade),
)

_LEDGER = sa.Table(
    "inkeep_migrations",
    sa.MetaData(),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("applied_at", sa.Text(), nullable=False),
)
_PG_LOCK_KEY: Final = 0x1A4E_E9_01


def _applied(connection: sa.Connection) -> set[str]:
    _LEDGER.create(connection, checkfirst=True)
    return set(connection.execute(sa.select(_LEDGER.c.name)).scalars())


def _upgrade(connection: sa.Connection) -> list[str]:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    done = _applied(connection)
    applied: list[str] = []
    for name, upgrade in MIGRATIONS:
        if name in done:
            continue
        upgrade(connection)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        connection.execute(_LEDGER.insert().values(name=name, applied_at=now))
        applied.append(name)
    return applied


async def migrate(engine: AsyncEngine) -> list[str]:
    """Apply every pending migration in one transaction; return the names applied."""
    # As a writer from the start: on SQLite that is BEGIN IMMEDIATE, so concurrent migrators wait for each
    # other (busy timeout) instead of failing on a read-to-write lock upgrade.
    async with engine.execution_options(inkeep_write=True).begin() as connection:
        applied = await connection.run_sync(_upgrade)
    for name in applied:
        logger.info("applied migration %s", name)
    return applied


async def applied_migrations(engine: AsyncEngine) -> list[str]:
    """Names of the migrations recorded in the database, in order of application."""
    async with engine.begin() as connection:
        await connection.run_sync(_applied)
        result = await connection.execute(sa.select(_LEDGER.c.name).order_by(_LEDGER.c.applied_at, _LEDGER.c.name))
        return list(result.scalars())
