"""Migration 008: tool permissions, tool overrides (added context) and tool-call approvals.

A frozen snapshot: later schema changes are new migrations, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["upgrade"]

_ID = sa.String(255)


def _project_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
    )


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "project_id", column],
        [f"{target}.tenant_id", f"{target}.project_id", f"{target}.id"],
        ondelete="CASCADE",
    )


def _referenced(metadata: sa.MetaData) -> None:
    """Stubs of the tables the foreign keys point at (they exist already)."""
    sa.Table(
        "projects", metadata, sa.Column("tenant_id", _ID, primary_key=True), sa.Column("id", _ID, primary_key=True)
    )
    for name in ("agents", "tools"):
        sa.Table(
            name,
            metadata,
            sa.Column("tenant_id", _ID, primary_key=True),
            sa.Column("project_id", _ID, primary_key=True),
            sa.Column("id", _ID, primary_key=True),
        )


def upgrade(connection: sa.Connection) -> None:
    """Create the permission, override and approval tables."""
    metadata = sa.MetaData()
    _referenced(metadata)
    permissions = sa.Table(
        "agent_tool_permissions",
        metadata,
        sa.Column("tenant_id", _ID, primary_key=True, nullable=False),
        sa.Column("project_id", _ID, primary_key=True, nullable=False),
        sa.Column("agent_id", _ID, primary_key=True, nullable=False),
        sa.Column("tool_id", _ID, primary_key=True, nullable=False),
        sa.Column("tool_name", _ID, primary_key=True, nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("impact_level", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        _project_fk(),
        _fk("agent_id", "agents"),
        _fk("tool_id", "tools"),
    )
    defaults = sa.Table(
        "tool_permission_defaults",
        metadata,
        sa.Column("tenant_id", _ID, primary_key=True, nullable=False),
        sa.Column("project_id", _ID, primary_key=True, nullable=False),
        sa.Column("default_mode", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        _project_fk(),
    )
    overrides = sa.Table(
        "tool_overrides",
        metadata,
        sa.Column("tenant_id", _ID, primary_key=True, nullable=False),
        sa.Column("project_id", _ID, primary_key=True, nullable=False),
        sa.Column("tool_id", _ID, primary_key=True, nullable=False),
        sa.Column("tool_name", _ID, primary_key=True, nullable=False),
        sa.Column("added_context", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        _project_fk(),
        _fk("tool_id", "tools"),
    )
    approvals = sa.Table(
        "tool_approvals",
        metadata,
        sa.Column("tenant_id", _ID, primary_key=True, nullable=False),
        sa.Column("project_id", _ID, primary_key=True, nullable=False),
        sa.Column("id", _ID, primary_key=True, nullable=False),
        sa.Column("tool_call_id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("graph_id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("tool_id", _ID, nullable=False),
        sa.Column("tool_name", _ID, nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("lease_until", sa.Text(), nullable=False),
        sa.Column("resumed_by", sa.String(16), nullable=True),
        _project_fk(),
        sa.Index("ix_tool_approvals_call", "tenant_id", "project_id", "tool_call_id"),
        sa.Index("ix_tool_approvals_status", "tenant_id", "project_id", "status", "requested_at"),
        sa.Index("ix_tool_approvals_requested", "tenant_id", "project_id", "requested_at", "id"),
    )
    for table in (permissions, defaults, overrides, approvals):
        table.create(connection)
