"""Migration 007: query logs, their steps and tool calls (caylex.md §4).

A frozen snapshot: later schema changes are new migrations, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["upgrade"]

_ID = sa.String(255)


def _keys() -> list[sa.Column[str]]:
    return [
        sa.Column("tenant_id", _ID, primary_key=True, nullable=False),
        sa.Column("project_id", _ID, primary_key=True, nullable=False),
        sa.Column("id", _ID, primary_key=True, nullable=False),
    ]


def _project_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
    )


def _query_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "project_id", "query_id"],
        ["query_logs.tenant_id", "query_logs.project_id", "query_logs.id"],
        ondelete="CASCADE",
    )


def upgrade(connection: sa.Connection) -> None:
    """Create the query-log tables and their indexes."""
    metadata = sa.MetaData()
    sa.Table(
        "projects",
        metadata,
        sa.Column("tenant_id", _ID, primary_key=True),
        sa.Column("id", _ID, primary_key=True),
    )
    query_logs = sa.Table(
        "query_logs",
        metadata,
        *_keys(),
        sa.Column("graph_id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("entry_agent_id", _ID, nullable=False),
        sa.Column("final_agent_id", _ID, nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_type", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "llm_calls",
                "input_tokens",
                "output_tokens",
                "tool_calls",
                "tool_errors",
                "transfers",
                "delegations",
            )
        ),
        sa.Column("tool_ids", sa.JSON(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("api_key_id", _ID, nullable=True),
        sa.Column("end_user_id", _ID, nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("span_id", sa.String(16), nullable=True),
        _project_fk(),
        sa.Index("ix_query_logs_started", "tenant_id", "project_id", "started_at_ms", "id"),
        sa.Index("ix_query_logs_graph", "tenant_id", "project_id", "graph_id", "started_at_ms"),
        sa.Index("ix_query_logs_conversation", "tenant_id", "project_id", "conversation_id"),
    )
    query_steps = sa.Table(
        "query_steps",
        metadata,
        *_keys(),
        sa.Column("query_id", _ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("graph_id", _ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("target_agent_id", _ID, nullable=True),
        sa.Column("model", _ID, nullable=True),
        sa.Column("name", _ID, nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        _project_fk(),
        _query_fk(),
        sa.Index("ix_query_steps_query", "tenant_id", "project_id", "query_id", "seq"),
        sa.Index("ix_query_steps_agent", "tenant_id", "project_id", "agent_id", "started_at_ms"),
    )
    tool_calls = sa.Table(
        "tool_calls",
        metadata,
        *_keys(),
        sa.Column("call_id", _ID, nullable=False),
        sa.Column("query_id", _ID, nullable=False),
        sa.Column("step_id", _ID, nullable=True),
        sa.Column("graph_id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("tool_id", _ID, nullable=False),
        sa.Column("tool_server_name", _ID, nullable=True),
        sa.Column("tool_name", _ID, nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=True),
        sa.Column("result_preview", sa.Text(), nullable=True),
        sa.Column("permission_mode", sa.String(32), nullable=False),
        sa.Column("approval", sa.String(16), nullable=True),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_type", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        _project_fk(),
        _query_fk(),
        sa.Index("ix_tool_calls_started", "tenant_id", "project_id", "started_at_ms"),
        sa.Index("ix_tool_calls_tool", "tenant_id", "project_id", "tool_id", "started_at_ms"),
        sa.Index("ix_tool_calls_agent", "tenant_id", "project_id", "agent_id", "started_at_ms"),
        sa.Index("ix_tool_calls_query", "tenant_id", "project_id", "query_id"),
    )
    for table in (query_logs, query_steps, tool_calls):
        table.create(connection)
