"""Artifacts: tool results an agent saved, kept per conversation so they survive restarts.

Each artifact holds a summary (what clients are shown, `summaryProps` of its component) and the full
data (`fullProps`, what the model reads back with `get_reference_artifact`). Reads are scoped to a
conversation: an agent can never read another conversation's artifacts, even with a valid id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from inkeep_runtime.store import tables
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope, utc_now

__all__ = ["ArtifactRecord", "ArtifactStore", "NewArtifact"]

_ARTIFACTS: sa.Table = tables.Artifact.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewArtifact:
    """An artifact to save."""

    id: str
    conversation_id: str
    run_id: str | None
    agent_id: str
    tool_call_id: str
    component_id: str
    type: str
    name: str
    description: str
    summary: Mapping[str, Any]
    full: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactRecord:
    """A stored artifact."""

    id: str
    conversation_id: str
    run_id: str | None
    agent_id: str
    tool_call_id: str
    component_id: str
    type: str
    name: str
    description: str
    summary: dict[str, Any]
    full: dict[str, Any]
    created_at: str


def _scoped(scope: Scope, conversation_id: str) -> list[sa.ColumnElement[bool]]:
    return [
        _ARTIFACTS.c.tenant_id == scope.tenant_id,
        _ARTIFACTS.c.project_id == scope.project_id,
        _ARTIFACTS.c.conversation_id == conversation_id,
    ]


def _record(row: Any) -> ArtifactRecord:
    return ArtifactRecord(
        id=row["id"],
        conversation_id=row["conversation_id"],
        run_id=row["run_id"],
        agent_id=row["agent_id"],
        tool_call_id=row["tool_call_id"],
        component_id=row["component_id"],
        type=row["type"],
        name=row["name"],
        description=row["description"],
        summary=dict(row["summary"] or {}),
        full=dict(row["full"] or {}),
        created_at=row["created_at"],
    )


class ArtifactStore:
    """Reads and writes artifacts through the `Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def save(self, scope: Scope, artifact: NewArtifact) -> ArtifactRecord:
        """Store a new artifact (committed before this returns)."""
        row = {
            "tenant_id": scope.tenant_id,
            "project_id": scope.project_id,
            "id": artifact.id,
            "conversation_id": artifact.conversation_id,
            "run_id": artifact.run_id,
            "agent_id": artifact.agent_id,
            "tool_call_id": artifact.tool_call_id,
            "component_id": artifact.component_id,
            "type": artifact.type,
            "name": artifact.name,
            "description": artifact.description,
            "summary": dict(artifact.summary),
            "full": dict(artifact.full),
            "created_at": utc_now(),
        }
        async with self._store.write(scope.key) as session:
            await session.execute(sa.insert(_ARTIFACTS).values(**row))
        return _record(row)

    async def get(self, scope: Scope, conversation_id: str, artifact_id: str) -> ArtifactRecord | None:
        """One artifact of the conversation, or None."""
        statement = sa.select(_ARTIFACTS).where(*_scoped(scope, conversation_id), _ARTIFACTS.c.id == artifact_id)
        async with self._store.read() as session:
            row = (await session.execute(statement)).mappings().first()
        return _record(row) if row is not None else None

    async def recent(self, scope: Scope, conversation_id: str, *, limit: int) -> list[ArtifactRecord]:
        """The conversation's newest `limit` artifacts, oldest first."""
        statement = (
            sa.select(_ARTIFACTS)
            .where(*_scoped(scope, conversation_id))
            .order_by(_ARTIFACTS.c.created_at.desc(), _ARTIFACTS.c.id.desc())
            .limit(limit)
        )
        async with self._store.read() as session:
            rows = (await session.execute(statement)).mappings().all()
        return [_record(row) for row in reversed(rows)]
