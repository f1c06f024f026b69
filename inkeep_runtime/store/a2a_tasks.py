"""A2A tasks in the database: so `tasks/get` answers after the run, after a restart, and in other processes.

A task is written when it is created (state `submitted`, with the user's message as its history) and
when it ends (final state, status message, the answer artifact). Streaming progress stays in memory in
the process that runs the task: the per-token path never touches the database. Two columns coordinate
processes that share a database: `cancel_requested_at` (set by `tasks/cancel` in any process, polled by
the one running the task) and `updated_at` (a task still `working` long after its run deadline belonged
to a process that died; readers report it failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from inkeep_runtime.store import tables
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope, utc_now

__all__ = ["A2ATaskRecord", "A2ATaskStore"]

_TASKS: sa.Table = tables.A2ATask.__table__  # type: ignore[attr-defined]
_TERMINAL = ("completed", "canceled", "failed", "rejected")


@dataclass(frozen=True, slots=True, kw_only=True)
class A2ATaskRecord:
    """A stored A2A task (messages, artifacts and status message in the neutral JSON of `a2a.wire`)."""

    id: str
    graph_id: str
    agent_id: str | None
    context_id: str
    run_id: str | None
    state: str
    status_message: dict[str, Any] | None
    history: list[dict[str, Any]]
    artifacts: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    cancel_requested_at: str | None
    created_at: str
    updated_at: str


def _scoped(scope: Scope, task_id: str) -> list[sa.ColumnElement[bool]]:
    return [_TASKS.c.tenant_id == scope.tenant_id, _TASKS.c.project_id == scope.project_id, _TASKS.c.id == task_id]


class A2ATaskStore:
    """Reads and writes A2A tasks through the `Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, scope: Scope, record: A2ATaskRecord) -> None:
        """Insert a new task."""
        row = {
            "tenant_id": scope.tenant_id,
            "project_id": scope.project_id,
            "id": record.id,
            "graph_id": record.graph_id,
            "agent_id": record.agent_id,
            "context_id": record.context_id,
            "run_id": record.run_id,
            "state": record.state,
            "status_message": record.status_message,
            "history": record.history,
            "artifacts": record.artifacts,
            "metadata": record.metadata,
            "cancel_requested_at": None,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }
        async with self._store.write(scope.key) as session:
            await session.execute(sa.insert(_TASKS).values(**row))

    async def get(self, scope: Scope, task_id: str) -> A2ATaskRecord | None:
        """One task, or None."""
        async with self._store.read() as session:
            row = (await session.execute(sa.select(_TASKS).where(*_scoped(scope, task_id)))).mappings().first()
        return _record(row) if row is not None else None

    async def page(
        self, scope: Scope, *, graph_id: str, context_id: str | None, state: str | None, offset: int, limit: int
    ) -> tuple[list[A2ATaskRecord], int]:
        """A page of the graph's tasks, newest first, and how many match in all."""
        where = [
            _TASKS.c.tenant_id == scope.tenant_id,
            _TASKS.c.project_id == scope.project_id,
            _TASKS.c.graph_id == graph_id,
        ]
        if context_id is not None:
            where.append(_TASKS.c.context_id == context_id)
        if state is not None:
            where.append(_TASKS.c.state == state)
        statement = (
            sa.select(_TASKS)
            .where(*where)
            .order_by(_TASKS.c.created_at.desc(), _TASKS.c.id)
            .offset(offset)
            .limit(limit)
        )
        async with self._store.read() as session:
            rows = [_record(row) for row in (await session.execute(statement)).mappings()]
            total = int((await session.execute(sa.select(sa.func.count()).where(*where))).scalar() or 0)
        return rows, total

    async def set_state(self, scope: Scope, task_id: str, state: str) -> None:
        """Record a non-terminal state change (unless the task already ended)."""
        async with self._store.write(scope.key) as session:
            await session.execute(
                sa.update(_TASKS)
                .where(*_scoped(scope, task_id), _TASKS.c.state.not_in(_TERMINAL))
                .values(state=state, updated_at=utc_now())
            )

    async def finish(
        self,
        scope: Scope,
        task_id: str,
        *,
        state: str,
        status_message: dict[str, Any] | None,
        artifacts: list[dict[str, Any]],
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        """Record the task's end; False when it had already ended (the first end wins)."""
        changes: dict[str, Any] = {
            "state": state,
            "status_message": status_message,
            "artifacts": artifacts,
            "updated_at": utc_now(),
        }
        if metadata is not None:
            changes["metadata"] = metadata
        async with self._store.write(scope.key) as session:
            result = await session.execute(
                sa.update(_TASKS).where(*_scoped(scope, task_id), _TASKS.c.state.not_in(_TERMINAL)).values(**changes)
            )
        return bool(getattr(result, "rowcount", 0))

    async def request_cancel(self, scope: Scope, task_id: str) -> None:
        """Ask whichever process runs the task to cancel it."""
        async with self._store.write(scope.key) as session:
            await session.execute(
                sa.update(_TASKS)
                .where(*_scoped(scope, task_id), _TASKS.c.state.not_in(_TERMINAL))
                .values(cancel_requested_at=utc_now())
            )

    async def is_cancel_requested(self, scope: Scope, task_id: str) -> bool:
        """Whether `tasks/cancel` asked for this task (from any process)."""
        statement = sa.select(_TASKS.c.cancel_requested_at).where(*_scoped(scope, task_id))
        async with self._store.read() as session:
            return (await session.execute(statement)).scalar() is not None


def _record(row: Any) -> A2ATaskRecord:
    return A2ATaskRecord(
        id=row["id"],
        graph_id=row["graph_id"],
        agent_id=row["agent_id"],
        context_id=row["context_id"],
        run_id=row["run_id"],
        state=row["state"],
        status_message=row["status_message"],
        history=list(row["history"] or []),
        artifacts=list(row["artifacts"] or []),
        metadata=row["metadata"],
        cancel_requested_at=row["cancel_requested_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
