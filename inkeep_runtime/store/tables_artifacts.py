"""SQLModel table of saved artifacts (migration `m005_artifacts`). Never imported outside `inkeep_runtime.store`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

__all__ = ["Artifact"]

_ID = 255


class Artifact(SQLModel, table=True):
    __tablename__ = "artifacts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "project_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.project_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        Index("ix_artifacts_conversation", "tenant_id", "project_id", "conversation_id", "created_at"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    conversation_id: str = Field(max_length=_ID)
    run_id: str | None = Field(default=None, max_length=_ID)
    agent_id: str = Field(max_length=_ID)
    tool_call_id: str = Field(max_length=_ID)
    """The tool call whose result the artifact was saved from."""
    component_id: str = Field(max_length=_ID)
    """The artifact component (no foreign key: an artifact outlives a deleted component)."""
    type: str = Field(max_length=_ID)
    """The component's name when the artifact was saved."""
    name: str
    description: str
    summary: dict[str, Any] = Field(sa_type=JSON)
    """Props matching the component's `summaryProps` (what clients are shown)."""
    full: dict[str, Any] = Field(sa_type=JSON)
    """Props matching the component's `fullProps` (what the reference tool returns)."""
    created_at: str
