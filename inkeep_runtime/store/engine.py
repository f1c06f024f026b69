"""Database engines and the `Store` that hands out read and write sessions.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout. Writers are
serialised inside the process by an `anyio.Lock` and across processes by `BEGIN IMMEDIATE`, so a
transaction never fails half-way on a lock upgrade. PostgreSQL takes a transaction-level advisory
lock per (tenant, project) for writes, so several runtime processes can share one database.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from inkeep_runtime.errors import StoreUnavailable

__all__ = ["Store", "create_engine"]

logger = logging.getLogger(__name__)


def create_engine(url: str, *, busy_timeout_ms: int = 5000) -> AsyncEngine:
    """Create an async engine for `url`, preparing SQLite files and pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # JIT makes asyncpg's type-introspection query on every new connection take ~100 ms; our
        # queries are short OLTP statements that never profit from it.
        return create_async_engine(url, pool_pre_ping=True, connect_args={"server_settings": {"jit": "off"}})
    database = parsed.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN can be IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get("inkeep_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Store:
    """Owns the engine; the only way the rest of the store package reaches the database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._reader = async_sessionmaker(engine, expire_on_commit=False)
        self._writer = async_sessionmaker(engine.execution_options(inkeep_write=True), expire_on_commit=False)
        self._write_lock = anyio.Lock()

    @classmethod
    def open(cls, url: str, *, busy_timeout_ms: int = 5000) -> Store:
        """Create a store for `url` (no I/O happens until the first session)."""
        return cls(create_engine(url, busy_timeout_ms=busy_timeout_ms))

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; its transaction is rolled back at the end.

        Raises:
            StoreUnavailable: the database is locked beyond the busy timeout or unreachable.
        """
        try:
            async with self._reader() as session:
                yield session
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    @asynccontextmanager
    async def write(self, scope: str) -> AsyncIterator[AsyncSession]:
        """A session in one write transaction, committed on success and rolled back on error.

        Args:
            scope: what is being written (usually `tenant/project`); PostgreSQL serialises writers
                of the same scope with an advisory lock.
        """
        try:
            if self.is_sqlite:
                async with self._write_lock, self._writer() as session, session.begin():
                    yield session
                return
            async with self._writer() as session, session.begin():
                key = zlib.crc32(scope.encode()) - 2**31
                await session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
                yield session
        except OperationalError as exc:
            raise _unavailable(exc) from exc


def _unavailable(error: OperationalError) -> StoreUnavailable:
    logger.warning("database unavailable: %s", str(error.orig).splitlines()[0] if error.orig else error)
    return StoreUnavailable("The database is busy or unreachable; retry the request shortly.")
