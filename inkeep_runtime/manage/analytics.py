"""Analytics routes over the query logs (caylex.md §4.2, endpoints #4 to #8).

`GET /tenants/{tenantId}/crud/projects/{projectId}/analytics/{summary|timeseries|tools|agents|errors}`.
Query parameters are validated strictly: a malformed `window`/`frequency`/`from`/`to`, an unknown
`metric`/`sort`/`groupBy`/`order`, an unknown parameter, or a series of more than 1000 buckets is a
400 problem naming the parameter and the expected form. The definitions (half-open ranges,
epoch-aligned buckets, nearest-rank percentiles, what each filter selects) are in
`inkeep_runtime.observe.analytics_params` and `analytics_sql`, and repeated in the route descriptions.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic_core import PydanticCustomError

from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, project_scope, require_project
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope
from inkeep_runtime.observe import analytics, analytics_breakdowns
from inkeep_runtime.observe.analytics_breakdowns import AgentSort, Order, ToolGroup, ToolSort
from inkeep_runtime.observe.analytics_models import AgentBreakdown, ErrorBreakdown, Summary, Timeseries, ToolBreakdown
from inkeep_runtime.observe.analytics_params import (
    DURATION_PATTERN,
    Filters,
    TimeRange,
    buckets_for,
    default_buckets,
    duration_ms,
    parse_instant_ms,
    resolve_range,
)
from inkeep_runtime.store.rows import Rows, Scope

__all__ = [
    "AgentsQuery",
    "ErrorsQuery",
    "RangeQuery",
    "SummaryQuery",
    "TimeseriesQuery",
    "ToolsQuery",
    "endpoints",
]

_TAG = "Analytics"
_ID = Field(default=None, min_length=1, max_length=255)
_RANGE_DOC = (
    "Ranges are half-open, [from, to): `from`/`to` (ISO 8601, UTC unless an offset is given) take precedence "
    "over `window` (`^\\d+(m|h|d|w|mo)$`, default 24h; a month is 30 days). Durations are milliseconds, rates "
    "fractions 0..1, percentiles exact nearest-rank (the value at rank ceil(p*n/100)). Averages, rates and "
    "percentiles of no rows are null; counts are 0."
)
_BUCKET_DOC = (
    " Buckets are aligned to the epoch (weeks to Monday 00:00 UTC); a point's timestamp is its bucket's start, "
    "a row exactly on a boundary counts in the later bucket, and every bucket is returned, empty ones too "
    "(at most 1000)."
)
_FILTER_DOC = (
    " Filters: graphId; agentId (queries the agent entered or ran a step in; tool calls it made); toolId and "
    "toolName (queries that called such a tool; such calls); status (queries that ended so; tool calls made in "
    "them)."
)

_SERIES_DOC = _BUCKET_DOC + _FILTER_DOC


def _duration(value: str) -> str:
    try:
        duration_ms(value)
    except ValueError as exc:
        kind = "duration"
        raise PydanticCustomError(kind, "{message}", {"message": str(exc)}) from exc
    return value


class RangeQuery(ApiModel):
    """The time range of every analytics route."""

    model_config = ConfigDict(extra="forbid")

    window: str = Field(default="24h", description=f"Look-back from now ({DURATION_PATTERN}), e.g. 15m, 24h, 7d.")
    from_: str | None = Field(default=None, alias="from", description="Range start (inclusive), ISO 8601.")
    to: str | None = Field(default=None, description="Range end (exclusive), ISO 8601; default now.")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data

    @field_validator("window")
    @classmethod
    def _check_window(cls, value: str) -> str:
        return _duration(value)

    @field_validator("from_", "to")
    @classmethod
    def _check_instant(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_instant_ms(value)
            except ValueError as exc:
                kind = "datetime"
                raise PydanticCustomError(kind, "{message}", {"message": str(exc)}) from exc
        return value

    def time_range(self) -> TimeRange:
        """The range these parameters name, ending now unless `to` says otherwise."""
        return resolve_range(window=self.window, start=self.from_, end=self.to, now_ms=time.time_ns() // 1_000_000)


class FilteredQuery(RangeQuery):
    """A range plus the shared filters."""

    graph_id: str | None = _ID
    agent_id: str | None = _ID
    tool_id: str | None = _ID
    tool_name: str | None = _ID
    status: Literal["success", "error", "cancelled"] | None = Field(default=None, description="Query outcome.")

    def filters(self) -> Filters:
        """The shared filters as the analytics take them."""
        return Filters(
            graph_id=self.graph_id,
            agent_id=self.agent_id,
            tool_id=self.tool_id,
            tool_name=self.tool_name,
            status=self.status,
        )


class _Frequency(FilteredQuery):
    frequency: str | None = Field(
        default=None, description=f"Bucket width ({DURATION_PATTERN}); default 1h, or 1d/1w/1mo to fit 1000 buckets."
    )

    @field_validator("frequency")
    @classmethod
    def _check_frequency(cls, value: str | None) -> str | None:
        return None if value is None else _duration(value)


class SummaryQuery(FilteredQuery):
    """Parameters of `GET …/analytics/summary`."""

    compare: Literal["previous"] | None = Field(default=None, description="Add the same-length range before.")


class TimeseriesQuery(_Frequency):
    """Parameters of `GET …/analytics/timeseries`."""

    metric: analytics.Metric


class ErrorsQuery(_Frequency):
    """Parameters of `GET …/analytics/errors`."""


class ToolsQuery(FilteredQuery):
    """Parameters of `GET …/analytics/tools`."""

    group_by: ToolGroup = "tool"
    sort: ToolSort = "calls"
    order: Order = "desc"
    limit: int = Field(default=100, ge=1, le=1000)


class AgentsQuery(RangeQuery):
    """Parameters of `GET …/analytics/agents`."""

    graph_id: str | None = _ID
    sort: AgentSort = "queriesActive"
    order: Order = "desc"
    limit: int = Field(default=100, ge=1, le=1000)


async def _scope(call: Call) -> Scope:
    scope = project_scope(call)
    async with call.services.store.read() as session:
        await require_project(Rows(session), scope)
    return scope


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _data(value: Any) -> dict[str, Any]:
    """`{"data": value}` in its wire form (camelCase)."""
    adapter = _ADAPTERS.get(type(value))
    if adapter is None:
        adapter = _ADAPTERS[type(value)] = TypeAdapter(type(value))
    return {"data": adapter.dump_python(value, mode="json")}


async def get_summary(call: Call) -> Any:
    """Totals, rates and percentiles of a range, optionally with the range before it."""
    query: SummaryQuery = call.query
    span = query.time_range()
    scope = await _scope(call)
    found = await analytics.summarize(
        call.services.store, scope, span, query.filters(), compare=query.compare == "previous"
    )
    return _data(found)


async def get_timeseries(call: Call) -> Any:
    """One metric per bucket."""
    query: TimeseriesQuery = call.query
    span = query.time_range()
    buckets = default_buckets(span) if query.frequency is None else buckets_for(span, query.frequency)
    scope = await _scope(call)
    found = await analytics.timeseries(call.services.store, scope, span, buckets, query.filters(), query.metric)
    return _data(found)


async def get_tools(call: Call) -> Any:
    """Calls, failures and latency per tool, MCP server, or agent and tool."""
    query: ToolsQuery = call.query
    span = query.time_range()
    scope = await _scope(call)
    found = await analytics_breakdowns.tool_breakdown(
        call.services.store,
        scope,
        span,
        query.filters(),
        group_by=query.group_by,
        sort=query.sort,
        order=query.order,
        limit=query.limit,
    )
    return _data(found)


async def get_agents(call: Call) -> Any:
    """Per-agent queries, model calls, tokens, tool calls, transfers and delegations."""
    query: AgentsQuery = call.query
    span = query.time_range()
    scope = await _scope(call)
    found = await analytics_breakdowns.agent_breakdown(
        call.services.store,
        scope,
        span,
        Filters(graph_id=query.graph_id),
        sort=query.sort,
        order=query.order,
        limit=query.limit,
    )
    return _data(found)


async def get_errors(call: Call) -> Any:
    """Failed tool calls (and failed queries) by error type, with shares and a series per type."""
    query: ErrorsQuery = call.query
    span = query.time_range()
    buckets = default_buckets(span) if query.frequency is None else buckets_for(span, query.frequency)
    scope = await _scope(call)
    found = await analytics.error_breakdown(call.services.store, scope, span, buckets, query.filters())
    return _data(found)


def endpoints() -> list[Endpoint]:
    """The five analytics routes."""
    base = f"{PROJECT_PREFIX}/analytics"
    found: list[tuple[str, str, Any, type[ApiModel], Any, str]] = [
        ("summary", "Get Analytics Summary", get_summary, SummaryQuery, Summary, _FILTER_DOC),
        (
            "timeseries",
            "Get Analytics Time Series",
            get_timeseries,
            TimeseriesQuery,
            Timeseries,
            _BUCKET_DOC + _FILTER_DOC,
        ),
        ("tools", "Get Tool Analytics", get_tools, ToolsQuery, ToolBreakdown, _FILTER_DOC),
        ("agents", "Get Agent Analytics", get_agents, AgentsQuery, AgentBreakdown, ""),
        ("errors", "Get Error Analytics", get_errors, ErrorsQuery, ErrorBreakdown, _SERIES_DOC),
    ]
    return [
        Endpoint(
            method="GET",
            path=f"{base}/{name}",
            summary=summary,
            handler=handler,
            tag=_TAG,
            query=query,
            response=DataEnvelope[response],  # type: ignore[valid-type]
            description=_RANGE_DOC + extra,
            errors=(400, 401, 404),
        )
        for name, summary, handler, query, response, extra in found
    ]
