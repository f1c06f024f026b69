"""SQLModel table of A2A tasks (migration `m003_a2a_tasks`). Never imported outside `inkeep_runtime.store`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

__all__ = ["A2ATask"]

_ID = 255


class A2ATask(SQLModel, table=True):
    __tablename__ = "a2a_tasks"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "project_id", "context_id"],
            ["conversations.tenant_id", "conversations.project_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        Index("ix_a2a_tasks_context", "tenant_id", "project_id", "context_id"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    graph_id: str = Field(max_length=_ID)
    agent_id: str | None = Field(default=None, max_length=_ID)
    """The agent the request addressed (None: the graph, entering at its default agent)."""
    context_id: str = Field(max_length=_ID)
    """The A2A contextId, which is our conversation id."""
    run_id: str | None = Field(default=None, max_length=_ID)
    state: str = Field(max_length=32)
    """A2A task state in 0.3 spelling (`submitted`, `working`, `completed`, `failed`, `canceled`, ...)."""
    status_message: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    history: list[dict[str, Any]] = Field(sa_type=JSON)
    artifacts: list[dict[str, Any]] = Field(sa_type=JSON)
    metadata_: dict[str, Any] | None = Field(default=None, sa_type=JSON, sa_column_kwargs={"name": "metadata"})
    cancel_requested_at: str | None = None
    """Set by `tasks/cancel` in any process; the process running the task polls it."""
    created_at: str
    updated_at: str
