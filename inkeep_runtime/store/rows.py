"""Generic, scoped row access for the definition tables.

Every statement is filtered by tenant (and project, for everything below a project), so a caller can
never read or change another tenant's rows. Rows travel as plain dictionaries keyed by column name;
the manage layer validates them into its response models at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inkeep_runtime.errors import Conflict
from inkeep_runtime.store import tables

__all__ = ["KINDS", "Rows", "Scope", "iso_utc", "utc_now"]

KINDS: Final[dict[str, sa.Table]] = {
    model.__tablename__: model.__table__  # type: ignore[union-attr]
    for model in (
        tables.Project,
        tables.AgentGraph,
        tables.Agent,
        tables.ExternalAgent,
        tables.AgentRelation,
        tables.Tool,
        tables.AgentToolRelation,
        tables.DataComponent,
        tables.ArtifactComponent,
        tables.AgentDataComponent,
        tables.AgentArtifactComponent,
        tables.ContextConfig,
        tables.CredentialReference,
        tables.ApiKey,
    )
}


def iso_utc(moment: datetime) -> str:
    """`moment` as stored and shown by the API: ISO-8601 UTC with milliseconds and a `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    """The current time as stored: ISO-8601 UTC with milliseconds and a `Z`."""
    return iso_utc(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose rows: a tenant, or a tenant's project."""

    tenant_id: str
    project_id: str | None = None

    @property
    def key(self) -> str:
        """A string naming the scope (used for write locks and messages)."""
        return f"{self.tenant_id}/{self.project_id or ''}"


class Rows:
    """Scoped CRUD over the definition tables inside one session (and its transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _where(table: sa.Table, scope: Scope, filters: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = [table.c.tenant_id == scope.tenant_id]
        if "project_id" in table.c:
            clauses.append(table.c.project_id == scope.project_id)
        for column, value in filters.items():
            if value is None:
                continue
            if isinstance(value, list | tuple | set | frozenset):
                clauses.append(table.c[column].in_(list(value)))
            else:
                clauses.append(table.c[column] == value)
        return clauses

    async def get(self, kind: str, scope: Scope, row_id: str) -> dict[str, Any] | None:
        """One row by id, or None."""
        table = KINDS[kind]
        statement = sa.select(table).where(*self._where(table, scope, {"id": row_id}))
        row = (await self.session.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def find(self, kind: str, scope: Scope, **filters: Any) -> list[dict[str, Any]]:
        """Every row matching `filters` (column = value, or column IN list), oldest first."""
        table = KINDS[kind]
        statement = sa.select(table).where(*self._where(table, scope, filters)).order_by(table.c.created_at, table.c.id)
        return [dict(row) for row in (await self.session.execute(statement)).mappings()]

    async def page(
        self, kind: str, scope: Scope, *, page: int, limit: int, filters: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of matching rows (oldest first) and the total count."""
        table = KINDS[kind]
        where = self._where(table, scope, filters)
        total = (await self.session.execute(sa.select(sa.func.count()).select_from(table).where(*where))).scalar_one()
        statement = (
            sa.select(table)
            .where(*where)
            .order_by(table.c.created_at, table.c.id)
            .limit(limit)
            .offset((page - 1) * limit)
        )
        rows = [dict(row) for row in (await self.session.execute(statement)).mappings()]
        return rows, int(total)

    async def count(self, kind: str, scope: Scope, **filters: Any) -> int:
        """How many rows match."""
        table = KINDS[kind]
        statement = sa.select(sa.func.count()).select_from(table).where(*self._where(table, scope, filters))
        return int((await self.session.execute(statement)).scalar_one())

    async def insert(self, kind: str, scope: Scope, values: Mapping[str, Any], *, label: str) -> dict[str, Any]:
        """Insert a row with fresh timestamps.

        Raises:
            Conflict: a row with this id (or another unique key) already exists.
        """
        table = KINDS[kind]
        now = utc_now()
        row = {"tenant_id": scope.tenant_id, **values, "created_at": now}
        if "project_id" in table.c:
            row["project_id"] = scope.project_id
        if "updated_at" in table.c:
            row["updated_at"] = now
        if await self.get(kind, scope, row["id"]) is not None:
            msg = f"{label} '{row['id']}' already exists."
            raise Conflict(msg)
        try:
            async with self.session.begin_nested():
                await self.session.execute(sa.insert(table).values(**row))
        except IntegrityError as exc:
            msg = f"{label} '{row['id']}' conflicts with an existing row: {_constraint(exc)}."
            raise Conflict(msg) from exc
        # Read back: column defaults (e.g. a tool's `status`) and unset nullable columns appear as stored.
        stored = await self.get(kind, scope, row["id"])
        assert stored is not None
        return stored

    async def update(
        self, kind: str, scope: Scope, row_id: str, values: Mapping[str, Any], *, label: str
    ) -> dict[str, Any] | None:
        """Update columns of one row (touching `updated_at`); None when it does not exist."""
        table = KINDS[kind]
        changes = dict(values)
        if "updated_at" in table.c:
            changes["updated_at"] = utc_now()
        statement = sa.update(table).where(*self._where(table, scope, {"id": row_id})).values(**changes)
        try:
            async with self.session.begin_nested():
                result = await self.session.execute(statement)
        except IntegrityError as exc:
            msg = f"{label} '{row_id}' cannot be updated: {_constraint(exc)}."
            raise Conflict(msg) from exc
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return None
        return await self.get(kind, scope, changes.get("id", row_id))

    async def delete(self, kind: str, scope: Scope, *, label: str, **filters: Any) -> int:
        """Delete matching rows; return how many went.

        Raises:
            Conflict: another row still refers to one of them.
        """
        table = KINDS[kind]
        statement = sa.delete(table).where(*self._where(table, scope, filters))
        try:
            async with self.session.begin_nested():
                result = await self.session.execute(statement)
        except IntegrityError as exc:
            msg = f"{label} is still referenced by other resources ({_constraint(exc)}); remove those first."
            raise Conflict(msg) from exc
        return int(result.rowcount)  # type: ignore[attr-defined]


def _constraint(error: IntegrityError) -> str:
    text = str(error.orig).strip().splitlines()[0] if error.orig is not None else "constraint violated"
    return text.removeprefix("<class 'asyncpg.exceptions.").split(">: ")[-1]
