"""Migration 004: the context cache (resolved context variables per conversation).

A frozen snapshot: later schema changes are new migrations, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["upgrade"]


def upgrade(connection: sa.Connection) -> None:
    """Create `context_cache`."""
    metadata = sa.MetaData()
    sa.Table(
        "projects",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True),
        sa.Column("id", sa.String(255), primary_key=True),
    )
    for name in ("conversations", "context_configs"):
        sa.Table(
            name,
            metadata,
            sa.Column("tenant_id", sa.String(255), primary_key=True),
            sa.Column("project_id", sa.String(255), primary_key=True),
            sa.Column("id", sa.String(255), primary_key=True),
        )
    cache = sa.Table(
        "context_cache",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("conversation_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("context_config_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("variable_key", sa.String(255), primary_key=True, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("fetched_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.project_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "context_config_id"],
            ["context_configs.tenant_id", "context_configs.project_id", "context_configs.id"],
            ondelete="CASCADE",
        ),
    )
    cache.create(connection)
