"""Per-agent tool permissions, a project's default mode, and operator-written tool context.

The functions take the caller's session, so the loader reads policies in the same snapshot as the rest of
a graph and the manage routes write them in their own transaction (the write lock serialises writers of
a project, which makes the select-then-insert upserts safe on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from inkeep_runtime.store import tables
from inkeep_runtime.store.rows import Scope, utc_now

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "PermissionMode",
    "PermissionRecord",
    "ToolPolicies",
    "read_default_mode",
    "read_overrides",
    "read_permissions",
    "read_policies",
    "set_default_mode",
    "set_override",
    "write_permission",
]

PermissionMode = Literal["always_execute", "require_approval", "disabled"]
MODES: Final[tuple[str, ...]] = get_args(PermissionMode)
DEFAULT_MODE: Final[PermissionMode] = "always_execute"
"""A project's default when it stored none."""

_PERMISSIONS: sa.Table = tables.AgentToolPermission.__table__  # type: ignore[attr-defined]
_DEFAULTS: sa.Table = tables.ToolPermissionDefault.__table__  # type: ignore[attr-defined]
_OVERRIDES: sa.Table = tables.ToolOverride.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class PermissionRecord:
    """One explicit permission."""

    agent_id: str
    tool_id: str
    tool_name: str
    mode: str
    impact_level: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolPolicies:
    """Everything the loader needs to shape what agents see and may call."""

    default_mode: str = DEFAULT_MODE
    modes: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """`(agentId, toolId, toolName) → mode`, explicit permissions only."""
    added_context: dict[tuple[str, str], str] = field(default_factory=dict)
    """`(toolId, toolName) → addedContext`."""


def _scoped(table: sa.Table, scope: Scope) -> list[sa.ColumnElement[bool]]:
    return [table.c.tenant_id == scope.tenant_id, table.c.project_id == scope.project_id]


async def read_default_mode(session: AsyncSession, scope: Scope) -> str:
    """The project's default mode (`always_execute` unless set)."""
    statement = sa.select(_DEFAULTS.c.default_mode).where(*_scoped(_DEFAULTS, scope))
    found = (await session.execute(statement)).scalar_one_or_none()
    return str(found) if found is not None else DEFAULT_MODE


async def set_default_mode(session: AsyncSession, scope: Scope, mode: str) -> str:
    """Store the project's default mode; return the time it was written."""
    now = utc_now()
    updated = await session.execute(
        sa.update(_DEFAULTS).where(*_scoped(_DEFAULTS, scope)).values(default_mode=mode, updated_at=now)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        values = {"tenant_id": scope.tenant_id, "project_id": scope.project_id, "default_mode": mode}
        await session.execute(sa.insert(_DEFAULTS).values(**values, created_at=now, updated_at=now))
    return now


async def read_policies(
    session: AsyncSession, scope: Scope, *, agent_ids: Sequence[str], tool_ids: Sequence[str]
) -> ToolPolicies:
    """The permissions of `agent_ids` on `tool_ids`, the overrides of `tool_ids` and the project default."""
    default = await read_default_mode(session, scope)
    if not agent_ids or not tool_ids:
        return ToolPolicies(default_mode=default)
    statement = sa.select(_PERMISSIONS).where(
        *_scoped(_PERMISSIONS, scope), _PERMISSIONS.c.agent_id.in_(agent_ids), _PERMISSIONS.c.tool_id.in_(tool_ids)
    )
    modes = {
        (row["agent_id"], row["tool_id"], row["tool_name"]): row["mode"]
        for row in (await session.execute(statement)).mappings()
    }
    overrides = sa.select(_OVERRIDES).where(*_scoped(_OVERRIDES, scope), _OVERRIDES.c.tool_id.in_(tool_ids))
    added = {
        (row["tool_id"], row["tool_name"]): row["added_context"]
        for row in (await session.execute(overrides)).mappings()
    }
    return ToolPolicies(default_mode=default, modes=modes, added_context=added)


async def read_permissions(session: AsyncSession, scope: Scope, agent_id: str) -> list[PermissionRecord]:
    """An agent's explicit permissions, ordered by tool and tool name."""
    statement = (
        sa.select(_PERMISSIONS)
        .where(*_scoped(_PERMISSIONS, scope), _PERMISSIONS.c.agent_id == agent_id)
        .order_by(_PERMISSIONS.c.tool_id, _PERMISSIONS.c.tool_name)
    )
    return [
        PermissionRecord(
            agent_id=row["agent_id"],
            tool_id=row["tool_id"],
            tool_name=row["tool_name"],
            mode=row["mode"],
            impact_level=row["impact_level"],
        )
        for row in (await session.execute(statement)).mappings()
    ]


async def write_permission(
    session: AsyncSession,
    scope: Scope,
    *,
    agent_id: str,
    tool_id: str,
    tool_name: str,
    mode: str | None,
    impact_level: str | None,
) -> None:
    """Upsert one permission; `mode=None` deletes it (back to the project default)."""
    key = [
        *_scoped(_PERMISSIONS, scope),
        _PERMISSIONS.c.agent_id == agent_id,
        _PERMISSIONS.c.tool_id == tool_id,
        _PERMISSIONS.c.tool_name == tool_name,
    ]
    if mode is None:
        await session.execute(sa.delete(_PERMISSIONS).where(*key))
        return
    now = utc_now()
    changes = {"mode": mode, "impact_level": impact_level, "updated_at": now}
    updated = await session.execute(sa.update(_PERMISSIONS).where(*key).values(**changes))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        row = {"tenant_id": scope.tenant_id, "project_id": scope.project_id, "agent_id": agent_id}
        row.update(tool_id=tool_id, tool_name=tool_name, created_at=now)
        await session.execute(sa.insert(_PERMISSIONS).values(**row, **changes))


async def read_overrides(session: AsyncSession, scope: Scope, tool_ids: Iterable[str]) -> dict[tuple[str, str], str]:
    """`(toolId, toolName) → addedContext` of the given tools."""
    ids = list(tool_ids)
    if not ids:
        return {}
    statement = sa.select(_OVERRIDES).where(*_scoped(_OVERRIDES, scope), _OVERRIDES.c.tool_id.in_(ids))
    return {
        (row["tool_id"], row["tool_name"]): row["added_context"]
        for row in (await session.execute(statement)).mappings()
    }


async def set_override(
    session: AsyncSession, scope: Scope, *, tool_id: str, tool_name: str, added_context: str | None
) -> str:
    """Store (or, with None, remove) a tool's added context; return the time it was written."""
    key = [*_scoped(_OVERRIDES, scope), _OVERRIDES.c.tool_id == tool_id, _OVERRIDES.c.tool_name == tool_name]
    now = utc_now()
    if added_context is None:
        await session.execute(sa.delete(_OVERRIDES).where(*key))
        return now
    updated = await session.execute(
        sa.update(_OVERRIDES).where(*key).values(added_context=added_context, updated_at=now)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        row = {"tenant_id": scope.tenant_id, "project_id": scope.project_id, "tool_id": tool_id}
        row.update(tool_name=tool_name, added_context=added_context, created_at=now, updated_at=now)
        await session.execute(sa.insert(_OVERRIDES).values(**row))
    return now
