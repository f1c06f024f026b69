"""Tool-call approvals as stored: requested, decided once, carried out once.

Every state change is a conditional `UPDATE` (`WHERE status = 'pending'`, `WHERE resumed_by IS NULL`), so
two processes (or a waiting run and a late decision) can race on one row and exactly one wins, on SQLite
and PostgreSQL alike. The protocol around these rows lives in `agent/approvals.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from inkeep_runtime.store import tables
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope, utc_now

__all__ = ["ApprovalRecord", "ApprovalStatus", "ApprovalStore", "NewApproval"]

ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]

_APPROVALS: sa.Table = tables.ToolApproval.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewApproval:
    """An approval to request."""

    id: str
    tool_call_id: str
    run_id: str
    graph_id: str
    conversation_id: str
    agent_id: str
    tool_id: str
    tool_name: str
    arguments: dict[str, Any]
    expires_at: str
    owner_id: str
    lease_until: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRecord:
    """A stored approval."""

    tenant_id: str
    project_id: str
    id: str
    tool_call_id: str
    run_id: str
    graph_id: str
    conversation_id: str
    agent_id: str
    tool_id: str
    tool_name: str
    arguments: dict[str, Any]
    status: ApprovalStatus
    reason: str | None
    requested_at: str
    expires_at: str
    decided_at: str | None
    owner_id: str
    lease_until: str
    resumed_by: str | None

    @property
    def scope(self) -> Scope:
        """The project the approval belongs to."""
        return Scope(self.tenant_id, self.project_id)


def _record(row: Any) -> ApprovalRecord:
    values = dict(row)
    values["arguments"] = values["arguments"] or {}
    return ApprovalRecord(**values)


def _scoped(scope: Scope) -> list[sa.ColumnElement[bool]]:
    return [_APPROVALS.c.tenant_id == scope.tenant_id, _APPROVALS.c.project_id == scope.project_id]


class ApprovalStore:
    """Reads and writes `tool_approvals` through the `Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, scope: Scope, approvals: Sequence[NewApproval]) -> None:
        """Store pending approvals (one transaction)."""
        now = utc_now()
        rows = [
            {
                "tenant_id": scope.tenant_id,
                "project_id": scope.project_id,
                "id": a.id,
                "tool_call_id": a.tool_call_id,
                "run_id": a.run_id,
                "graph_id": a.graph_id,
                "conversation_id": a.conversation_id,
                "agent_id": a.agent_id,
                "tool_id": a.tool_id,
                "tool_name": a.tool_name,
                "arguments": a.arguments,
                "status": "pending",
                "requested_at": now,
                "expires_at": a.expires_at,
                "owner_id": a.owner_id,
                "lease_until": a.lease_until,
            }
            for a in approvals
        ]
        if rows:
            async with self._store.write(scope.key) as session:
                await session.execute(sa.insert(_APPROVALS), rows)

    async def get(self, scope: Scope, approval_id: str) -> ApprovalRecord | None:
        """One approval by its id."""
        statement = sa.select(_APPROVALS).where(*_scoped(scope), _APPROVALS.c.id == approval_id)
        async with self._store.read() as session:
            row = (await session.execute(statement)).mappings().first()
        return _record(row) if row is not None else None

    async def find(self, scope: Scope, key: str) -> ApprovalRecord | None:
        """The approval named by an approval id or a tool-call id: a pending one first, else the newest."""
        statement = (
            sa.select(_APPROVALS)
            .where(*_scoped(scope), sa.or_(_APPROVALS.c.id == key, _APPROVALS.c.tool_call_id == key))
            .order_by((_APPROVALS.c.status == "pending").desc(), _APPROVALS.c.requested_at.desc())
            .limit(1)
        )
        async with self._store.read() as session:
            row = (await session.execute(statement)).mappings().first()
        return _record(row) if row is not None else None

    async def decide(self, scope: Scope, approval_id: str, status: ApprovalStatus, reason: str | None) -> bool:
        """Record a decision if the approval is still pending; False when it was decided already."""
        statement = (
            sa.update(_APPROVALS)
            .where(*_scoped(scope), _APPROVALS.c.id == approval_id, _APPROVALS.c.status == "pending")
            .values(status=status, reason=reason, decided_at=utc_now())
        )
        async with self._store.write(scope.key) as session:
            result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def renew(self, scope: Scope, approval_ids: Sequence[str], lease_until: str) -> None:
        """Extend the owner's lease on approvals its run still waits for."""
        statement = (
            sa.update(_APPROVALS)
            .where(*_scoped(scope), _APPROVALS.c.id.in_(list(approval_ids)), _APPROVALS.c.resumed_by.is_(None))
            .values(lease_until=lease_until)
        )
        async with self._store.write(scope.key) as session:
            await session.execute(statement)

    async def claim(self, scope: Scope, approval_id: str, by: Literal["run", "detached"]) -> bool:
        """Take the job of carrying out a decision; only one claimant ever wins.

        A detached claim also needs the owner's lease to have lapsed (its run is gone).
        """
        clauses = [*_scoped(scope), _APPROVALS.c.id == approval_id, _APPROVALS.c.resumed_by.is_(None)]
        if by == "detached":
            clauses.append(_APPROVALS.c.lease_until <= utc_now())
        statement = sa.update(_APPROVALS).where(*clauses).values(resumed_by=by)
        async with self._store.write(scope.key) as session:
            result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def expire_overdue(self, scope: Scope | None = None) -> int:
        """Mark pending approvals past their expiry `expired`; return how many."""
        now = utc_now()
        clauses = [_APPROVALS.c.status == "pending", _APPROVALS.c.expires_at <= now]
        if scope is not None:
            clauses.extend(_scoped(scope))
        statement = (
            sa.update(_APPROVALS)
            .where(*clauses)
            .values(status="expired", decided_at=now, reason="No decision arrived before the approval expired.")
        )
        async with self._store.write(scope.key if scope else "approvals") as session:
            result = await session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def page(
        self,
        scope: Scope,
        *,
        limit: int,
        after: tuple[str, str] | None = None,
        status: str | None = None,
        graph_id: str | None = None,
        conversation_id: str | None = None,
    ) -> list[ApprovalRecord]:
        """Newest first, keyset-paged on `(requestedAt, id)`; `after` is the last row of the previous page."""
        clauses = _scoped(scope)
        for column, value in (("status", status), ("graph_id", graph_id), ("conversation_id", conversation_id)):
            if value is not None:
                clauses.append(_APPROVALS.c[column] == value)
        if after is not None:
            requested_at, approval_id = after
            clauses.append(
                sa.or_(
                    _APPROVALS.c.requested_at < requested_at,
                    sa.and_(_APPROVALS.c.requested_at == requested_at, _APPROVALS.c.id < approval_id),
                )
            )
        statement = (
            sa.select(_APPROVALS)
            .where(*clauses)
            .order_by(_APPROVALS.c.requested_at.desc(), _APPROVALS.c.id.desc())
            .limit(limit)
        )
        async with self._store.read() as session:
            return [_record(row) for row in (await session.execute(statement)).mappings()]
