"""Tool permissions, operator-written tool context, and human approvals of tool calls (caylex.md §4.3, §4.4).

Permissions and overrides are definitions: they go with the agent or tool they name (`ON DELETE CASCADE`)
and the loader reads them into the runnable graph. Approvals are runtime records: they keep no foreign key
to the graph or agent, so the history of a deleted graph stays listable; a project's rows go with the
project. Timestamps are ISO-8601 UTC strings with milliseconds, like the definition tables, so they
compare lexically on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from inkeep_runtime.store.table_keys import ID_LENGTH as _ID
from inkeep_runtime.store.table_keys import project_fk, scoped_fk

__all__ = ["AgentToolPermission", "ToolApproval", "ToolOverride", "ToolPermissionDefault"]


class AgentToolPermission(SQLModel, table=True):
    """How one agent may use one MCP tool of one server: `(agentId, toolId, toolName) → mode`."""

    __tablename__ = "agent_tool_permissions"
    __table_args__ = (
        project_fk("CASCADE"),
        scoped_fk("agent_id", "agents", "CASCADE"),
        scoped_fk("tool_id", "tools", "CASCADE"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    agent_id: str = Field(primary_key=True, max_length=_ID)
    tool_id: str = Field(primary_key=True, max_length=_ID)
    tool_name: str = Field(primary_key=True, max_length=_ID)
    mode: str = Field(max_length=32)
    """`always_execute`, `require_approval` or `disabled`."""
    impact_level: str | None = Field(default=None, max_length=64)
    created_at: str
    updated_at: str


class ToolPermissionDefault(SQLModel, table=True):
    """A project's default mode for tools without an explicit permission (none stored: `always_execute`)."""

    __tablename__ = "tool_permission_defaults"
    __table_args__ = (project_fk("CASCADE"),)
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    default_mode: str = Field(max_length=32)
    created_at: str
    updated_at: str


class ToolOverride(SQLModel, table=True):
    """Operator-written context appended to an MCP tool's description: `(toolId, toolName) → addedContext`."""

    __tablename__ = "tool_overrides"
    __table_args__ = (project_fk("CASCADE"), scoped_fk("tool_id", "tools", "CASCADE"))
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    tool_id: str = Field(primary_key=True, max_length=_ID)
    tool_name: str = Field(primary_key=True, max_length=_ID)
    added_context: str
    created_at: str
    updated_at: str


class ToolApproval(SQLModel, table=True):
    """One tool call that waited (or waits) for a human decision."""

    __tablename__ = "tool_approvals"
    __table_args__ = (
        project_fk("CASCADE"),
        Index("ix_tool_approvals_call", "tenant_id", "project_id", "tool_call_id"),
        Index("ix_tool_approvals_status", "tenant_id", "project_id", "status", "requested_at"),
        Index("ix_tool_approvals_requested", "tenant_id", "project_id", "requested_at", "id"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    """The approval id (the AI SDK part's `approvalId`)."""
    tool_call_id: str = Field(max_length=_ID)
    """The model's tool-call id (unique within its run only)."""
    run_id: str = Field(max_length=_ID)
    """The run (= query log id) that asked."""
    graph_id: str = Field(max_length=_ID)
    conversation_id: str = Field(max_length=_ID)
    agent_id: str = Field(max_length=_ID)
    tool_id: str = Field(max_length=_ID)
    tool_name: str = Field(max_length=_ID)
    arguments: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    status: str = Field(max_length=16)
    """`pending`, `approved`, `rejected` or `expired`."""
    reason: str | None = None
    requested_at: str
    expires_at: str
    decided_at: str | None = None
    owner_id: str = Field(max_length=64)
    """The runtime process whose run awaits the decision."""
    lease_until: str
    """The owner renews this while its run waits; past it, the run is gone (see `agent/approvals.py`)."""
    resumed_by: str | None = Field(default=None, max_length=16)
    """Who carried the decision out: `run` (the waiting stream) or `detached` (after the run was gone)."""
