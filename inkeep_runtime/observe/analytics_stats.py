"""Grouped aggregates over `query_logs` and `tool_calls`: the statements every analytics route shares.

Each function runs one aggregate statement over the filtered rows of one table, grouped by the given
expressions (none: one group over everything, which exists even when no row matched), plus one
statement for the exact percentiles when asked (see `analytics_sql`), and returns the groups by key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from inkeep_runtime.observe.analytics_sql import (
    QUERY_LOGS,
    TOOL_CALLS,
    Condition,
    count_if,
    grouped_rows,
    percentiles_statement,
    total,
)

__all__ = ["QueryStats", "ToolCallStats", "mean", "query_stats", "ratio", "tool_call_stats"]

Key = tuple[Any, ...]


def ratio(part: int, whole: int) -> float | None:
    """`part / whole`, or None when there is nothing to divide by."""
    return part / whole if whole else None


def mean(amount: int, count: int) -> float | None:
    """An average in ms rounded to 3 decimals (microseconds), or None over no rows."""
    return round(amount / count, 3) if count else None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


async def _aggregate(
    session: AsyncSession,
    table: sa.TableClause,
    where: Sequence[Condition],
    groups: Sequence[ColumnElement[Any]],
    columns: Sequence[ColumnElement[Any]],
    aggregates: Callable[[Subquery], list[ColumnElement[Any]]],
) -> dict[Key, Sequence[Any]]:
    """`aggregates` of the `where` rows of `table` (with `columns`) per group."""
    rows, keys = grouped_rows(table, where, groups, columns)
    statement = sa.select(*keys, *aggregates(rows))
    if keys:
        statement = statement.group_by(*keys)
    result = await session.execute(statement)
    return {tuple(row[: len(keys)]): tuple(row[len(keys) :]) for row in result.all()}


async def _percentiles(
    session: AsyncSession,
    table: sa.TableClause,
    value: ColumnElement[Any],
    where: Sequence[Condition],
    groups: Sequence[ColumnElement[Any]],
    ranks: Sequence[int],
) -> dict[Key, tuple[int | None, ...]]:
    result = await session.execute(percentiles_statement(table, value, where, groups, ranks))
    count = len(groups)
    return {tuple(row[:count]): tuple(_optional_int(value) for value in row[count:]) for row in result.all()}


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryStats:
    """Aggregates of a group of queries."""

    queries: int
    errors: int
    duration_sum_ms: int
    duration_p95_ms: int | None
    transfers: int
    delegations: int
    input_tokens: int
    output_tokens: int


async def query_stats(
    session: AsyncSession,
    where: Sequence[Condition],
    *,
    groups: Sequence[ColumnElement[Any]] = (),
    with_percentiles: bool = True,
) -> dict[Key, QueryStats]:
    """Query counts, errors, durations and hops of the `where` rows of `query_logs`, by `groups`."""
    names = ("status", "duration_ms", "transfers", "delegations", "input_tokens", "output_tokens")

    def aggregates(rows: Subquery) -> list[ColumnElement[Any]]:
        return [
            sa.func.count(),
            count_if(rows.c.status == "error"),
            *(sa.func.sum(rows.c[name]) for name in names[1:]),
        ]

    columns = [QUERY_LOGS.c[name] for name in names]
    found = await _aggregate(session, QUERY_LOGS, where, groups, columns, aggregates)
    p95: dict[Key, tuple[int | None, ...]] = {}
    if with_percentiles:
        p95 = await _percentiles(session, QUERY_LOGS, QUERY_LOGS.c.duration_ms, where, groups, (95,))
    return {
        key: QueryStats(
            queries=total(values[0]),
            errors=total(values[1]),
            duration_sum_ms=total(values[2]),
            duration_p95_ms=p95.get(key, (None,))[0],
            transfers=total(values[3]),
            delegations=total(values[4]),
            input_tokens=total(values[5]),
            output_tokens=total(values[6]),
        )
        for key, values in found.items()
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStats:
    """Aggregates of a group of tool calls."""

    calls: int
    errors: int
    latency_sum_ms: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    latency_p99_ms: int | None
    approvals_requested: int
    rejected: int
    last_started_at_ms: int | None
    queries: int
    """Distinct queries (only with `with_server`; else 0)."""
    server_name: str | None
    """The MCP server's name (only with `with_server`)."""


async def tool_call_stats(
    session: AsyncSession,
    where: Sequence[Condition],
    *,
    groups: Sequence[ColumnElement[Any]] = (),
    with_percentiles: bool = True,
    with_server: bool = False,
) -> dict[Key, ToolCallStats]:
    """Call counts, failures, latencies and approvals of the `where` rows of `tool_calls`, by `groups`."""
    names = ["success", "latency_ms", "permission_mode", "approval", "started_at_ms"]
    names += ["query_id", "tool_server_name"] if with_server else []

    def aggregates(rows: Subquery) -> list[ColumnElement[Any]]:
        return [
            sa.func.count(),
            count_if(sa.not_(rows.c.success)),
            sa.func.sum(rows.c.latency_ms),
            count_if(rows.c.permission_mode == "require_approval"),
            count_if(rows.c.approval.in_(("rejected", "expired"))),
            sa.func.max(rows.c.started_at_ms),
            sa.func.count(sa.distinct(rows.c.query_id)) if with_server else sa.null(),
            sa.func.max(rows.c.tool_server_name) if with_server else sa.null(),
        ]

    columns = [TOOL_CALLS.c[name] for name in names]
    found = await _aggregate(session, TOOL_CALLS, where, groups, columns, aggregates)
    ranks: dict[Key, tuple[int | None, ...]] = {}
    if with_percentiles:
        ranks = await _percentiles(session, TOOL_CALLS, TOOL_CALLS.c.latency_ms, where, groups, (50, 95, 99))
    return {
        key: ToolCallStats(
            calls=total(values[0]),
            errors=total(values[1]),
            latency_sum_ms=total(values[2]),
            latency_p50_ms=ranks.get(key, (None,) * 3)[0],
            latency_p95_ms=ranks.get(key, (None,) * 3)[1],
            latency_p99_ms=ranks.get(key, (None,) * 3)[2],
            approvals_requested=total(values[3]),
            rejected=total(values[4]),
            last_started_at_ms=_optional_int(values[5]),
            queries=total(values[6]),
            server_name=values[7],
        )
        for key, values in found.items()
    }
