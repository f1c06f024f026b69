"""Analytics over the query logs: summary, time series and error types (caylex.md §4.2, #4, #5 and #8).

Everything is SQL over `query_logs` and `tool_calls` (`analytics_stats`); the per-tool and per-agent
breakdowns (#6, #7) live in `analytics_breakdowns`. Definitions shared by all of them:

- A row belongs to a range or bucket by its own start time: a query by `started_at_ms`, a tool call
  by its own `started_at_ms` (not its query's). Ranges are half-open `[from, to)`; buckets are
  epoch-aligned and a row on a boundary lands in the later bucket (`analytics_params`).
- Percentiles are exact nearest-rank values (`analytics_sql`).
- A query "errs" when its status is `error` (a `cancelled` query is not an error); a tool call errs
  when it did not succeed. Failed rows without an `errorType` are counted as `internal`.
- The filters select rows as `Filters` documents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableClause

from inkeep_runtime.observe.analytics_models import (
    DurationStats,
    ErrorBreakdown,
    ErrorTypeShare,
    LatencyStats,
    Period,
    Point,
    QueryErrors,
    Summary,
    Timeseries,
    TypePoint,
)
from inkeep_runtime.observe.analytics_params import Buckets, Filters, TimeRange, iso_ms
from inkeep_runtime.observe.analytics_sql import (
    QUERY_LOGS,
    TOOL_CALLS,
    Condition,
    bucket_index,
    query_conditions,
    tool_call_conditions,
)
from inkeep_runtime.observe.analytics_stats import QueryStats, ToolCallStats, mean, query_stats, ratio, tool_call_stats
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope

__all__ = ["METRICS", "Metric", "error_breakdown", "summarize", "timeseries"]

Metric = Literal[
    "queries",
    "tool_calls",
    "tool_call_errors",
    "tool_call_error_rate",
    "tool_call_latency_avg",
    "tool_call_latency_p95",
    "tool_calls_per_query",
    "query_duration_avg",
    "tokens",
]
METRICS: Final[tuple[Metric, ...]] = get_args(Metric)
Unit = Literal["count", "fraction", "ms", "tokens", "calls_per_query"]

_NO_QUERIES: Final = QueryStats(
    queries=0,
    errors=0,
    duration_sum_ms=0,
    duration_p95_ms=None,
    transfers=0,
    delegations=0,
    input_tokens=0,
    output_tokens=0,
)
_NO_CALLS: Final = ToolCallStats(
    calls=0,
    errors=0,
    latency_sum_ms=0,
    latency_p50_ms=None,
    latency_p95_ms=None,
    latency_p99_ms=None,
    approvals_requested=0,
    rejected=0,
    queries=0,
    last_started_at_ms=None,
    server_name=None,
)
_UNKNOWN_ERROR: Final = "internal"


# --- summary ----------------------------------------------------------------------------------------------------


async def _period(session: AsyncSession, scope: Scope, span: TimeRange, filters: Filters) -> Period:
    queries = (await query_stats(session, query_conditions(span, scope, filters)))[()]
    calls = (await tool_call_stats(session, tool_call_conditions(span, scope, filters)))[()]
    return Period(
        queries=queries.queries,
        query_error_rate=ratio(queries.errors, queries.queries),
        query_duration_ms=DurationStats(
            avg=mean(queries.duration_sum_ms, queries.queries), p95=queries.duration_p95_ms
        ),
        tool_calls=calls.calls,
        tool_call_error_rate=ratio(calls.errors, calls.calls),
        avg_tool_calls_per_query=ratio(calls.calls, queries.queries),
        tool_call_latency_ms=LatencyStats(
            avg=mean(calls.latency_sum_ms, calls.calls),
            p50=calls.latency_p50_ms,
            p95=calls.latency_p95_ms,
            p99=calls.latency_p99_ms,
        ),
        transfers=queries.transfers,
        delegations=queries.delegations,
        input_tokens=queries.input_tokens,
        output_tokens=queries.output_tokens,
        approvals_requested=calls.approvals_requested,
        tool_calls_rejected=calls.rejected,
    )


async def summarize(store: Store, scope: Scope, span: TimeRange, filters: Filters, *, compare: bool) -> Summary:
    """The figures of `span`, and of the same-length range before it when `compare` is set."""
    async with store.read() as session:
        current = await _period(session, scope, span, filters)
        previous = await _period(session, scope, span.previous(), filters) if compare else None
    return Summary(
        window=span.window,
        from_=iso_ms(span.start_ms),
        to=iso_ms(span.end_ms),
        filters=filters.applied(),
        current=current,
        previous=previous,
    )


# --- time series ------------------------------------------------------------------------------------------------

Value = tuple[int | float | None, int]
"""A bucket's (value, count)."""


@dataclass(frozen=True, slots=True)
class _MetricSpec:
    unit: Unit
    needs_queries: bool
    needs_calls: bool
    value: Callable[[QueryStats, ToolCallStats], Value]
    needs_percentiles: bool = False


_SPECS: Final[dict[Metric, _MetricSpec]] = {
    "queries": _MetricSpec("count", True, False, lambda q, _: (q.queries, q.queries)),
    "tool_calls": _MetricSpec("count", False, True, lambda _, c: (c.calls, c.calls)),
    "tool_call_errors": _MetricSpec("count", False, True, lambda _, c: (c.errors, c.calls)),
    "tool_call_error_rate": _MetricSpec("fraction", False, True, lambda _, c: (ratio(c.errors, c.calls), c.calls)),
    "tool_call_latency_avg": _MetricSpec("ms", False, True, lambda _, c: (mean(c.latency_sum_ms, c.calls), c.calls)),
    "tool_call_latency_p95": _MetricSpec("ms", False, True, lambda _, c: (c.latency_p95_ms, c.calls), True),
    "tool_calls_per_query": _MetricSpec(
        "calls_per_query", True, True, lambda q, c: (ratio(c.calls, q.queries), q.queries)
    ),
    "query_duration_avg": _MetricSpec("ms", True, False, lambda q, _: (mean(q.duration_sum_ms, q.queries), q.queries)),
    "tokens": _MetricSpec("tokens", True, False, lambda q, _: (q.input_tokens + q.output_tokens, q.queries)),
}


async def timeseries(
    store: Store, scope: Scope, span: TimeRange, buckets: Buckets, filters: Filters, metric: Metric
) -> Timeseries:
    """One point per bucket of `metric` (empty buckets included: counts 0, averages and rates null)."""
    spec = _SPECS[metric]
    queries: dict[int, QueryStats] = {}
    calls: dict[int, ToolCallStats] = {}
    async with store.read() as session:
        if spec.needs_queries:
            group = bucket_index(QUERY_LOGS.c.started_at_ms, buckets)
            found = await query_stats(
                session, query_conditions(span, scope, filters), groups=[group], with_percentiles=False
            )
            queries = {int(key[0]): stats for key, stats in found.items()}
        if spec.needs_calls:
            group = bucket_index(TOOL_CALLS.c.started_at_ms, buckets)
            where = tool_call_conditions(span, scope, filters)
            by_bucket = await tool_call_stats(session, where, groups=[group], with_percentiles=spec.needs_percentiles)
            calls = {int(key[0]): stats for key, stats in by_bucket.items()}
    points: list[Point] = []
    for index, start in enumerate(buckets.starts()):
        value, count = spec.value(queries.get(index, _NO_QUERIES), calls.get(index, _NO_CALLS))
        points.append(Point(timestamp=iso_ms(start), value=value, count=count))
    return Timeseries(
        metric=metric,
        unit=spec.unit,
        window=span.window,
        frequency=buckets.frequency,
        from_=iso_ms(span.start_ms),
        to=iso_ms(span.end_ms),
        filters=filters.applied(),
        points=points,
    )


# --- error types ------------------------------------------------------------------------------------------------


async def _error_types(
    session: AsyncSession, table: TableClause, where: list[Condition], failed: ColumnElement[bool], buckets: Buckets
) -> list[ErrorTypeShare]:
    """Failed rows by `errorType` (most frequent first, then by name), each with its per-bucket counts."""
    error_type = sa.func.coalesce(table.c.error_type, _UNKNOWN_ERROR)
    bucket = bucket_index(table.c.started_at_ms, buckets)
    statement = (
        sa.select(error_type, bucket, sa.func.count())
        .select_from(table)
        .where(*where, failed)
        .group_by(error_type, bucket)
    )
    counts: dict[str, dict[int, int]] = {}
    for name, index, count in (await session.execute(statement)).all():
        counts.setdefault(str(name), {})[int(index)] = int(count)
    errors = sum(sum(per_bucket.values()) for per_bucket in counts.values())
    starts = buckets.starts()
    shares = [
        ErrorTypeShare(
            error_type=name,
            count=sum(per_bucket.values()),
            share=sum(per_bucket.values()) / errors,
            points=[
                TypePoint(timestamp=iso_ms(start), value=per_bucket.get(index, 0)) for index, start in enumerate(starts)
            ],
        )
        for name, per_bucket in counts.items()
    ]
    return sorted(shares, key=lambda share: (-share.count, share.error_type))


async def error_breakdown(
    store: Store, scope: Scope, span: TimeRange, buckets: Buckets, filters: Filters
) -> ErrorBreakdown:
    """Failed tool calls, and failed queries, by `errorType`, with shares and series."""
    call_where = tool_call_conditions(span, scope, filters)
    query_where = query_conditions(span, scope, filters)
    async with store.read() as session:
        calls = (await tool_call_stats(session, call_where, with_percentiles=False))[()]
        call_types = await _error_types(session, TOOL_CALLS, call_where, sa.not_(TOOL_CALLS.c.success), buckets)
        queries = (await query_stats(session, query_where, with_percentiles=False))[()]
        query_types = await _error_types(session, QUERY_LOGS, query_where, QUERY_LOGS.c.status == "error", buckets)
    return ErrorBreakdown(
        window=span.window,
        frequency=buckets.frequency,
        from_=iso_ms(span.start_ms),
        to=iso_ms(span.end_ms),
        filters=filters.applied(),
        total_errors=calls.errors,
        total_tool_calls=calls.calls,
        error_rate=ratio(calls.errors, calls.calls),
        types=call_types,
        queries=QueryErrors(
            total_errors=queries.errors,
            total_queries=queries.queries,
            error_rate=ratio(queries.errors, queries.queries),
            types=query_types,
        ),
    )
