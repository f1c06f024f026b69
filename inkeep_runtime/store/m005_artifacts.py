"""Migration 005: artifacts saved from tool results (summary and full props, per conversation).

A frozen snapshot: later schema changes are new migrations, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["upgrade"]


def upgrade(connection: sa.Connection) -> None:
    """Create the artifact table."""
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
    artifacts = sa.Table(
        "artifacts",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(255), nullable=True),
        sa.Column("agent_id", sa.String(255), nullable=False),
        sa.Column("tool_call_id", sa.String(255), nullable=False),
        sa.Column("component_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("full", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.project_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        sa.Index("ix_artifacts_conversation", "tenant_id", "project_id", "conversation_id", "created_at"),
    )
    artifacts.create(connection)
