"""Migration 002: conversations and their messages.

A frozen snapshot: later schema changes are new migrations, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["upgrade"]


def upgrade(connection: sa.Connection) -> None:
    """Create the conversation tables."""
    metadata = sa.MetaData()
    sa.Table(
        "projects",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True),
        sa.Column("id", sa.String(255), primary_key=True),
    )
    sa.Table(
        "agent_graphs",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True),
        sa.Column("project_id", sa.String(255), primary_key=True),
        sa.Column("id", sa.String(255), primary_key=True),
    )
    conversations = sa.Table(
        "conversations",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("graph_id", sa.String(255), nullable=False),
        sa.Column("active_agent_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "graph_id"],
            ["agent_graphs.tenant_id", "agent_graphs.project_id", "agent_graphs.id"],
            ondelete="CASCADE",
        ),
    )
    messages = sa.Table(
        "messages",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.String(255), nullable=True),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("message_type", sa.String(32), nullable=False),
        sa.Column("tool_calls", sa.JSON(), nullable=True),
        sa.Column("tool_call_id", sa.String(255), nullable=True),
        sa.Column("is_partial", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.project_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("tenant_id", "project_id", "conversation_id", "seq", name="uq_messages_seq"),
    )
    conversations.create(connection)
    messages.create(connection)
