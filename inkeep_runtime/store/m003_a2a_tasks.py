"""Migration 003: A2A tasks (one per JSON-RPC `message/send` or `message/stream`).

A frozen snapshot: later schema changes are new migrations, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["upgrade"]


def upgrade(connection: sa.Connection) -> None:
    """Create the A2A task table."""
    metadata = sa.MetaData()
    sa.Table(
        "projects",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True),
        sa.Column("id", sa.String(255), primary_key=True),
    )
    sa.Table(
        "conversations",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True),
        sa.Column("project_id", sa.String(255), primary_key=True),
        sa.Column("id", sa.String(255), primary_key=True),
    )
    tasks = sa.Table(
        "a2a_tasks",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("graph_id", sa.String(255), nullable=False),
        sa.Column("agent_id", sa.String(255), nullable=True),
        sa.Column("context_id", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(255), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("status_message", sa.JSON(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("artifacts", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("cancel_requested_at", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "context_id"],
            ["conversations.tenant_id", "conversations.project_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        sa.Index("ix_a2a_tasks_context", "tenant_id", "project_id", "context_id"),
    )
    tasks.create(connection)
