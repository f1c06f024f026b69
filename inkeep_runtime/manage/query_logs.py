"""Query-log routes (caylex.md §4.1 #1 to #3): list the queries of a project, open one, read its step trace.

* `GET …/query-logs`: newest first, filtered by `graphId`, `agentId` (any agent that took a step),
  `toolId`, `toolName`, `status`, `conversationId`, `endUserId`, `from`/`to` (ISO 8601; `from`
  inclusive, `to` exclusive) and `search` (case-insensitive substring of the input). `limit` 1 to 100
  (default 20). Paging is a keyset on `(startedAt, id)`: `pagination.nextCursor` is an opaque token to
  pass back as `cursor` (null on the last page); a cursor that does not decode is a 400 naming `cursor`.
  The envelope is `{data, pagination: {limit, nextCursor, hasNext}}`; there is no `total`, because
  counting a large log on every page costs more than the page.
* `GET …/query-logs/{queryId}`: the whole row (input, output, error, usage per agent and model, trace ids).
* `GET …/query-logs/{queryId}/trace`: the query, its steps in order and its tool calls grouped by
  `tool_call_group` step. `includeArguments=true` adds each call's `arguments` (stored only when
  `INKEEP_QUERY_LOG_CAPTURE_ARGUMENTS` is on, and then already redacted; null otherwise).

Times are ISO-8601 UTC with milliseconds (`…Z`); durations are milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from starlette.responses import JSONResponse

from inkeep_runtime.errors import FieldError, InvalidRequest, NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, project_scope, require_project
from inkeep_runtime.manage.query_log_models import (
    CursorPagination,
    QueryLogDetail,
    QueryLogPage,
    QueryTrace,
    detail_of,
    item_of,
    trace_of_rows,
)
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope
from inkeep_runtime.observe.analytics_params import parse_instant_ms
from inkeep_runtime.secrets import redact
from inkeep_runtime.store.query_logs import QueryFilter, get_query, list_queries, tool_servers_of, trace_of
from inkeep_runtime.store.rows import Rows

__all__ = ["QueryLogListQuery", "QueryTraceQuery", "decode_cursor", "encode_cursor", "endpoints"]

_ShortText = Field(default=None, min_length=1, max_length=255)


class _Query(ApiModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data


class QueryLogListQuery(_Query):
    """Filters and paging of the query list."""

    graph_id: str | None = _ShortText
    agent_id: str | None = _ShortText
    tool_id: str | None = _ShortText
    tool_name: str | None = _ShortText
    status: Literal["success", "error", "cancelled"] | None = None
    conversation_id: str | None = _ShortText
    end_user_id: str | None = _ShortText
    from_: str | None = Field(default=None, alias="from", description="ISO 8601; queries started at or after.")
    to: str | None = Field(default=None, description="ISO 8601; queries started before.")
    search: str | None = Field(default=None, max_length=500, description="Case-insensitive substring of the input.")
    limit: int = Field(default=20, ge=1, le=100, description="Items per page, 1 to 100.")
    cursor: str | None = Field(default=None, description="`pagination.nextCursor` of the previous page.")

    @field_validator("from_", "to")
    @classmethod
    def _is_instant(cls, value: str | None) -> str | None:
        if value is not None:
            parse_instant_ms(value)  # raises ValueError naming the expected form
        return value


class QueryTraceQuery(_Query):
    """Options of the trace."""

    include_arguments: bool = Field(default=False, description="Add each tool call's stored (redacted) arguments.")


def encode_cursor(started_at_ms: int, query_id: str) -> str:
    """The opaque cursor that continues after the query `(started_at_ms, query_id)`."""
    return base64.urlsafe_b64encode(json.dumps([started_at_ms, query_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The keyset position a cursor names.

    Raises:
        InvalidRequest: the cursor was not made by `encode_cursor`.
    """
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    is_valid = (
        isinstance(value, list)
        and len(value) == 2
        and type(value[0]) is int
        and isinstance(value[1], str)
        and bool(value[1])
    )
    if not is_valid:
        message = "Not a cursor this API returned; pass pagination.nextCursor of the previous page unchanged."
        msg = f"Invalid query parameter cursor: {message}"
        raise InvalidRequest(msg, [FieldError("query.cursor", message)])
    assert isinstance(value, list)
    return value[0], value[1]


async def list_query_logs(call: Call) -> Any:
    """A page of the project's queries, newest first."""
    query: QueryLogListQuery = call.query
    after = decode_cursor(query.cursor) if query.cursor is not None else None
    scope = project_scope(call)
    store = call.services.store
    async with store.read() as session:
        await require_project(Rows(session), scope)
    found = QueryFilter(
        graph_id=query.graph_id,
        agent_id=query.agent_id,
        tool_id=query.tool_id,
        tool_name=query.tool_name,
        status=query.status,
        conversation_id=query.conversation_id,
        end_user_id=query.end_user_id,
        from_ms=parse_instant_ms(query.from_) if query.from_ is not None else None,
        to_ms=parse_instant_ms(query.to) if query.to is not None else None,
        search=query.search,
    )
    rows = await list_queries(store, scope, found, limit=query.limit + 1, after=after)
    has_next = len(rows) > query.limit
    rows = rows[: query.limit]
    servers = await tool_servers_of(store, scope, [row["id"] for row in rows])
    last = rows[-1] if has_next else None
    page = QueryLogPage(
        data=[item_of(row, servers.get(row["id"], {})) for row in rows],
        pagination=CursorPagination(
            limit=query.limit,
            next_cursor=encode_cursor(last["started_at_ms"], last["id"]) if last is not None else None,
            has_next=has_next,
        ),
    )
    return page.model_dump(mode="json")


def _missing(call: Call) -> NotFound:
    return NotFound(f"Query '{call.path['queryId']}' does not exist in project '{call.path['projectId']}'.")


def _respond(data: dict[str, Any], query: dict[str, Any], key_id: str | None) -> JSONResponse:
    """`{data}` redacted as every response is, except `apiKeyId` in `query` (an id whose name only looks secret)."""
    shown = redact({"data": data})
    shown_query = shown["data"]["query"] if query is not data else shown["data"]
    shown_query["apiKeyId"] = key_id
    return JSONResponse(shown)


async def get_query_log(call: Call) -> Any:
    """One query, in full."""
    scope = project_scope(call)
    row = await get_query(call.services.store, scope, call.path["queryId"])
    if row is None:
        raise _missing(call)
    detail = detail_of(row).model_dump(mode="json")
    return _respond(detail, detail, row["api_key_id"])


async def get_query_trace(call: Call) -> Any:
    """One query with its steps and tool calls."""
    options: QueryTraceQuery = call.query
    found = await trace_of(call.services.store, project_scope(call), call.path["queryId"])
    if found is None:
        raise _missing(call)
    row, steps, calls = found
    trace = trace_of_rows(row, steps, calls, include_arguments=options.include_arguments)
    return _respond(trace, trace["query"], row["api_key_id"])


def endpoints() -> list[Endpoint]:
    """The query-log routes."""
    base = f"{PROJECT_PREFIX}/query-logs"
    return [
        Endpoint(
            method="GET",
            path=base,
            summary="List Query Logs",
            description=(
                "The project's queries (one per chat-completions, `/api/chat` or A2A request), newest first, "
                "with keyset paging: pass `pagination.nextCursor` back as `cursor`."
            ),
            handler=list_query_logs,
            tag="Query Logs",
            query=QueryLogListQuery,
            response=QueryLogPage,
        ),
        Endpoint(
            method="GET",
            path=f"{base}/{{queryId}}",
            summary="Get Query Log",
            handler=get_query_log,
            tag="Query Logs",
            response=DataEnvelope[QueryLogDetail],
        ),
        Endpoint(
            method="GET",
            path=f"{base}/{{queryId}}/trace",
            summary="Get Query Trace",
            description="The query's steps (model calls, tool-call groups, transfers, delegations) and tool calls.",
            handler=get_query_trace,
            tag="Query Logs",
            query=QueryTraceQuery,
            response=DataEnvelope[QueryTrace],
        ),
    ]
