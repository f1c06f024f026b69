"""Wire models of the query-log routes, and the functions that build them from stored rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inkeep_runtime.manage.schemas import ApiModel
from inkeep_runtime.observe.analytics_params import iso_ms

__all__ = [
    "LIST_INPUT_CHARS",
    "CursorPagination",
    "QueryLogDetail",
    "QueryLogItem",
    "QueryLogPage",
    "QueryStepRead",
    "QueryTrace",
    "ToolCallGroup",
    "ToolCallRead",
    "ToolRef",
    "detail_of",
    "item_of",
    "trace_of_rows",
]

LIST_INPUT_CHARS = 200
"""How much of the input a list item shows."""


class ToolRef(ApiModel):
    """A tool server a query called."""

    tool_id: str
    name: str | None = None


class QueryLogItem(ApiModel):
    """One query in the list."""

    id: str
    graph_id: str
    conversation_id: str
    source: str
    entry_agent_id: str
    final_agent_id: str
    input: str
    """The first 200 characters of the user's message."""
    status: str
    error_type: str | None = None
    started_at: str
    duration_ms: int
    llm_calls: int
    tool_calls: int
    tool_errors: int
    transfers: int
    delegations: int
    tools: list[ToolRef]
    input_tokens: int
    output_tokens: int


class CursorPagination(ApiModel):
    """Keyset paging: pass `nextCursor` back as `cursor` for the next page."""

    limit: int
    next_cursor: str | None = None
    has_next: bool


class QueryLogPage(ApiModel):
    """`{data, pagination}` of the query list."""

    data: list[QueryLogItem]
    pagination: CursorPagination


class QueryLogDetail(ApiModel):
    """A whole query row."""

    id: str
    graph_id: str
    conversation_id: str
    source: str
    entry_agent_id: str
    final_agent_id: str
    input: str
    output: str
    status: str
    error_type: str | None = None
    error_message: str | None = None
    started_at: str
    duration_ms: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    tool_errors: int
    transfers: int
    delegations: int
    tool_ids: list[str]
    usage: list[dict[str, Any]]
    """Per agent and model: `{agentId, model, inputTokens, outputTokens, llmCalls}`."""
    api_key_id: str | None = None
    end_user_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


class QueryStepRead(ApiModel):
    """One step of a query's trace."""

    id: str
    seq: int
    kind: str
    agent_id: str
    target_agent_id: str | None = None
    model: str | None = None
    name: str | None = None
    started_at: str
    duration_ms: int
    status: str
    error_message: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class ToolCallRead(ApiModel):
    """One MCP tool call of a query's trace."""

    id: str
    call_id: str
    tool_id: str
    tool_server_name: str | None = None
    tool_name: str
    permission_mode: str
    approval: str | None = None
    started_at: str
    latency_ms: int
    success: bool
    error_type: str | None = None
    error_message: str | None = None
    result_preview: str | None = None
    arguments: dict[str, Any] | None = None
    """Present only with `includeArguments=true` (null when arguments were not captured)."""


class ToolCallGroup(ApiModel):
    """The tool calls one agent made in one batch (a `tool_call_group` step)."""

    step_id: str
    agent_id: str
    started_at: str
    tool_calls: list[ToolCallRead]


class QueryTrace(ApiModel):
    """A query with its steps and tool calls."""

    query: QueryLogDetail
    steps: list[QueryStepRead]
    tool_call_groups: list[ToolCallGroup]


def _started(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "started_at": iso_ms(row["started_at_ms"])}


def item_of(row: Mapping[str, Any], servers: Mapping[str, str | None]) -> QueryLogItem:
    """A list item from a `query_logs` row and the names of the tool servers it called."""
    values = _started(row)
    values["input"] = row["input"][:LIST_INPUT_CHARS]
    values["tools"] = [ToolRef(tool_id=tool_id, name=servers.get(tool_id)) for tool_id in row["tool_ids"]]
    return QueryLogItem.model_validate(values)


def detail_of(row: Mapping[str, Any]) -> QueryLogDetail:
    """The detail of a `query_logs` row."""
    return QueryLogDetail.model_validate(_started(row))


def trace_of_rows(
    row: Mapping[str, Any],
    steps: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    *,
    include_arguments: bool,
) -> dict[str, Any]:
    """The trace document (wire form) of a query, its steps and its tool calls."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        shown = ToolCallRead.model_validate(_started(call)).model_dump(mode="json")
        if not include_arguments:
            del shown["arguments"]
        by_group.setdefault(call["step_id"] or "", []).append(shown)
    groups = [
        {
            "stepId": step["id"],
            "agentId": step["agent_id"],
            "startedAt": iso_ms(step["started_at_ms"]),
            "toolCalls": by_group.get(step["id"], []),
        }
        for step in steps
        if step["kind"] == "tool_call_group"
    ]
    return {
        "query": detail_of(row).model_dump(mode="json"),
        "steps": [QueryStepRead.model_validate(_started(step)).model_dump(mode="json") for step in steps],
        "toolCallGroups": groups,
    }
