"""What the analytics compute: frozen values that are also the wire shapes (camelCase, caylex.md §4.2).

Units: durations in milliseconds (averages rounded to 3 decimals, percentiles are observed values),
rates as fractions between 0 and 1, timestamps ISO-8601 UTC. A figure that has no rows to come from
(an average, a rate or a percentile of nothing) is null, never 0; counts over nothing are 0.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

__all__ = [
    "AgentBreakdown",
    "AgentRow",
    "DurationStats",
    "ErrorBreakdown",
    "ErrorTypeShare",
    "LatencyStats",
    "Period",
    "Point",
    "QueryErrors",
    "Summary",
    "Timeseries",
    "ToolBreakdown",
    "ToolLatency",
    "ToolRow",
    "TypePoint",
]

_WIRE = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)
_FROM = Field(alias="from", description="Start of the range (inclusive), ISO-8601 UTC.")
_TO = Field(description="End of the range (exclusive), ISO-8601 UTC.")
_WINDOW = Field(description="The `window` the range came from; null when `from` gave it.")


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class DurationStats:
    """Query durations in ms."""

    avg: float | None
    p95: int | None


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class LatencyStats:
    """Tool-call latencies in ms."""

    avg: float | None
    p50: int | None
    p95: int | None
    p99: int | None


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class Period:
    """The figures of one range (`current` or `previous` of a summary)."""

    queries: int
    query_error_rate: float | None = Field(description="Queries that ended `error` / queries.")
    query_duration_ms: DurationStats
    tool_calls: int
    tool_call_error_rate: float | None = Field(description="Failed tool calls / tool calls.")
    avg_tool_calls_per_query: float | None = Field(description="Tool calls / queries of the range.")
    tool_call_latency_ms: LatencyStats
    transfers: int
    delegations: int
    input_tokens: int
    output_tokens: int
    approvals_requested: int = Field(description="Tool calls whose permission mode was `require_approval`.")
    tool_calls_rejected: int = Field(description="Tool calls whose approval was `rejected` or `expired`.")


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class Summary:
    """`data` of `GET …/analytics/summary`."""

    window: str | None = _WINDOW
    from_: str = _FROM
    to: str = _TO
    filters: dict[str, str]
    current: Period
    previous: Period | None = Field(description="The same-length range right before (with `compare=previous`).")


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class Point:
    """One bucket of a series: `timestamp` is the bucket's start."""

    timestamp: str
    value: int | float | None = Field(
        description="The metric: an integer for counts and tokens, else a number; 0 or null for an empty bucket."
    )
    count: int = Field(description="How many rows the value comes from (queries, or tool calls).")


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class Timeseries:
    """`data` of `GET …/analytics/timeseries`."""

    metric: str
    unit: Literal["count", "fraction", "ms", "tokens", "calls_per_query"]
    window: str | None = _WINDOW
    frequency: str
    from_: str = _FROM
    to: str = _TO
    filters: dict[str, str]
    points: list[Point]


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class ToolLatency:
    """Latency of a tool's calls in ms."""

    avg: float
    p95: int


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class ToolRow:
    """One row of the tool breakdown (one tool, server, or agent-and-tool pair)."""

    tool_id: str
    tool_server_name: str | None
    tool_name: str | None = Field(description="Null when grouped by server.")
    agent_id: str | None = Field(description="Set only when grouped by `agent_tool`.")
    calls: int
    errors: int
    error_rate: float
    latency_ms: ToolLatency
    queries: int = Field(description="Distinct queries that made these calls.")
    last_used_at: str


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class ToolBreakdown:
    """`data` of `GET …/analytics/tools`."""

    window: str | None = _WINDOW
    from_: str = _FROM
    to: str = _TO
    filters: dict[str, str]
    group_by: str
    sort: str
    order: str
    limit: int
    total: int = Field(description="Rows before `limit`.")
    tools: list[ToolRow]


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class AgentRow:
    """One agent's share of the traffic."""

    agent_id: str
    queries_entered: int = Field(description="Queries that started at this agent.")
    queries_active: int = Field(description="Distinct queries in which the agent ran at least one step.")
    llm_calls: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    tool_call_error_rate: float | None
    tool_call_latency_ms: DurationStats
    transfers_in: int
    transfers_out: int
    delegations_in: int
    delegations_out: int


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class AgentBreakdown:
    """`data` of `GET …/analytics/agents`."""

    window: str | None = _WINDOW
    from_: str = _FROM
    to: str = _TO
    filters: dict[str, str]
    sort: str
    order: str
    limit: int
    total: int = Field(description="Rows before `limit`.")
    agents: list[AgentRow]


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class TypePoint:
    """Errors of one type in one bucket."""

    timestamp: str
    value: int


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class ErrorTypeShare:
    """One error type: how often, its share of all errors, and its series."""

    error_type: str
    count: int
    share: float = Field(description="count / all errors, 0..1.")
    points: list[TypePoint]


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class QueryErrors:
    """Failed queries by type (a failed query need not have a failed tool call, e.g. `llm_error`)."""

    total_errors: int
    total_queries: int
    error_rate: float | None
    types: list[ErrorTypeShare]


@dataclass(frozen=True, kw_only=True, config=_WIRE)
class ErrorBreakdown:
    """`data` of `GET …/analytics/errors`: failed tool calls by `errorType`, plus failed queries."""

    window: str | None = _WINDOW
    frequency: str
    from_: str = _FROM
    to: str = _TO
    filters: dict[str, str]
    total_errors: int
    total_tool_calls: int
    error_rate: float | None
    types: list[ErrorTypeShare]
    queries: QueryErrors
