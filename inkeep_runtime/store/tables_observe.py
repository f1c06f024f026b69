"""Query logs: one row per run request, its steps, and its tool calls (caylex.md §4).

Written off the hot path by the query-log recorder; read by the query-log and analytics routes.
Times are epoch milliseconds (`*_ms` integers) so analytics can bucket them with integer division on
SQLite and PostgreSQL alike; durations are milliseconds. `graph_id` and `agent_id` are copied onto
steps and tool calls so analytics filter without joins. A project's logs go with the project
(`ON DELETE CASCADE`); deleting a graph keeps its history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from inkeep_runtime.store.table_keys import ID_LENGTH as _ID
from inkeep_runtime.store.table_keys import project_fk, scoped_fk

__all__ = ["QueryLog", "QueryStep", "ToolCallLog"]


class QueryLog(SQLModel, table=True):
    """One chat-completions, `/api/chat` or A2A request."""

    __tablename__ = "query_logs"
    __table_args__ = (
        project_fk("CASCADE"),
        Index("ix_query_logs_started", "tenant_id", "project_id", "started_at_ms", "id"),
        Index("ix_query_logs_graph", "tenant_id", "project_id", "graph_id", "started_at_ms"),
        Index("ix_query_logs_conversation", "tenant_id", "project_id", "conversation_id"),
        Index(  # migration 009: covers the analytics summary
            "ix_query_logs_analytics",
            "tenant_id",
            "project_id",
            "started_at_ms",
            "status",
            "duration_ms",
            "input_tokens",
            "output_tokens",
            "transfers",
            "delegations",
        ),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    """The run id."""
    graph_id: str = Field(max_length=_ID)
    conversation_id: str = Field(max_length=_ID)
    source: str = Field(max_length=32)
    """`chat_completions`, `api_chat` or `a2a`."""
    entry_agent_id: str = Field(max_length=_ID)
    final_agent_id: str = Field(max_length=_ID)
    input: str
    """The user's message, truncated."""
    output: str
    """The answer text, truncated."""
    status: str = Field(max_length=16)
    """`success`, `error` or `cancelled`."""
    error_type: str | None = Field(default=None, max_length=32)
    error_message: str | None = None
    started_at_ms: int = Field(sa_column=Column(BigInteger(), nullable=False))
    duration_ms: int
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    transfers: int = 0
    delegations: int = 0
    tool_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    usage: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    """Token usage per agent and model: `[{agentId, model, inputTokens, outputTokens, llmCalls}]`."""
    api_key_id: str | None = Field(default=None, max_length=_ID)
    end_user_id: str | None = Field(default=None, max_length=_ID)
    trace_id: str | None = Field(default=None, max_length=32)
    span_id: str | None = Field(default=None, max_length=16)


class QueryStep(SQLModel, table=True):
    """One step of a query: a model generation, a tool-call group, a hop between agents, a context fetch."""

    __tablename__ = "query_steps"
    __table_args__ = (
        project_fk("CASCADE"),
        scoped_fk("query_id", "query_logs", "CASCADE"),
        Index("ix_query_steps_query", "tenant_id", "project_id", "query_id", "seq"),
        Index("ix_query_steps_agent", "tenant_id", "project_id", "agent_id", "started_at_ms"),
        Index("ix_query_steps_started", "tenant_id", "project_id", "started_at_ms"),  # migration 009
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    query_id: str = Field(max_length=_ID)
    seq: int
    """Order within the query, from 1."""
    graph_id: str = Field(max_length=_ID)
    kind: str = Field(max_length=32)
    """`llm_generation`, `tool_call_group`, `transfer`, `delegation`, `delegation_return` or `context_fetch`."""
    agent_id: str = Field(max_length=_ID)
    target_agent_id: str | None = Field(default=None, max_length=_ID)
    model: str | None = Field(default=None, max_length=_ID)
    name: str | None = Field(default=None, max_length=_ID)
    """What the step names besides agents (a context variable for `context_fetch`)."""
    input_tokens: int | None = None
    output_tokens: int | None = None
    started_at_ms: int = Field(sa_column=Column(BigInteger(), nullable=False))
    duration_ms: int
    status: str = Field(max_length=16)
    """`success`, `error` or `cancelled`."""
    error_message: str | None = None


class ToolCallLog(SQLModel, table=True):
    """One MCP tool call (transfers and delegations are steps, not tool calls)."""

    __tablename__ = "tool_calls"
    __table_args__ = (
        project_fk("CASCADE"),
        scoped_fk("query_id", "query_logs", "CASCADE"),
        Index("ix_tool_calls_started", "tenant_id", "project_id", "started_at_ms"),
        Index("ix_tool_calls_tool", "tenant_id", "project_id", "tool_id", "started_at_ms"),
        Index("ix_tool_calls_agent", "tenant_id", "project_id", "agent_id", "started_at_ms"),
        Index("ix_tool_calls_query", "tenant_id", "project_id", "query_id"),
        Index(  # migration 009: covers tool-call analytics
            "ix_tool_calls_analytics",
            "tenant_id",
            "project_id",
            "started_at_ms",
            "latency_ms",
            "success",
            "permission_mode",
            "approval",
        ),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    call_id: str = Field(max_length=_ID)
    """The model's tool-call id (unique within its query only)."""
    query_id: str = Field(max_length=_ID)
    step_id: str | None = Field(default=None, max_length=_ID)
    """The `tool_call_group` step the call belongs to."""
    graph_id: str = Field(max_length=_ID)
    agent_id: str = Field(max_length=_ID)
    tool_id: str = Field(max_length=_ID)
    """The MCP server record (`tools` row)."""
    tool_server_name: str | None = Field(default=None, max_length=_ID)
    tool_name: str = Field(max_length=_ID)
    arguments: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    """Redacted and truncated; kept only when content capture is on."""
    result_preview: str | None = None
    permission_mode: str = Field(default="always_execute", max_length=32)
    approval: str | None = Field(default=None, max_length=16)
    """`approved`, `rejected`, `expired` or null (no approval needed)."""
    started_at_ms: int = Field(sa_column=Column(BigInteger(), nullable=False))
    latency_ms: int
    success: bool
    error_type: str | None = Field(default=None, max_length=32)
    """caylex.md §4 taxonomy: timeout, auth, rate_limited, mcp_connection, tool_error, invalid_arguments,
    permission_denied, approval_rejected, llm_error, internal."""
    error_message: str | None = None
