"""Per-tool and per-agent breakdowns of the query logs (caylex.md §4.2, #6 and #7).

The database aggregates each group (calls, failures, distinct queries, exact p95); Python sorts the
groups and applies `limit`, so ties and text order come out the same on SQLite and PostgreSQL (their
collations differ). Ties are broken by the ids in ascending order; a null sort value (an agent
without tool calls has no error rate) sorts last whatever the order.

Per agent, from the rows that started in the range:

- `queriesEntered`: queries whose entry agent it was; `queriesActive`: distinct queries in which it ran
  at least one step.
- `llmCalls`, `inputTokens`, `outputTokens`: its `llm_generation` steps and their tokens.
- `transfersOut`/`delegationsOut`: its `transfer`/`delegation` steps; `transfersIn`/`delegationsIn`: those
  steps that named it as the target (`delegation_return` steps are not counted).
- `toolCalls`, `toolCallErrorRate`, `toolCallLatencyMs {avg, p95}`: the MCP tool calls it made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from inkeep_runtime.observe.analytics_models import (
    AgentBreakdown,
    AgentRow,
    DurationStats,
    ToolBreakdown,
    ToolLatency,
    ToolRow,
)
from inkeep_runtime.observe.analytics_params import Filters, TimeRange, iso_ms
from inkeep_runtime.observe.analytics_sql import (
    QUERY_LOGS,
    QUERY_STEPS,
    TOOL_CALLS,
    count_if,
    query_conditions,
    step_conditions,
    tool_call_conditions,
    total,
)
from inkeep_runtime.observe.analytics_stats import ToolCallStats, mean, ratio, tool_call_stats
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope

__all__ = ["AgentSort", "Order", "ToolGroup", "ToolSort", "agent_breakdown", "tool_breakdown"]

ToolGroup = Literal["tool", "server", "agent_tool"]
ToolSort = Literal["calls", "errorRate", "p95LatencyMs", "lastUsedAt"]
AgentSort = Literal[
    "queriesActive", "queriesEntered", "llmCalls", "tokens", "toolCalls", "toolCallErrorRate", "p95LatencyMs"
]
Order = Literal["asc", "desc"]

Row = TypeVar("Row")

_TOOL_GROUPS: Final[dict[ToolGroup, tuple[str, ...]]] = {
    "tool": ("tool_id", "tool_name"),
    "server": ("tool_id",),
    "agent_tool": ("agent_id", "tool_id", "tool_name"),
}
_TOOL_SORTS: Final[dict[ToolSort, Callable[[ToolRow], Any]]] = {
    "calls": lambda row: row.calls,
    "errorRate": lambda row: row.error_rate,
    "p95LatencyMs": lambda row: row.latency_ms.p95,
    "lastUsedAt": lambda row: row.last_used_at,
}
_AGENT_SORTS: Final[dict[AgentSort, Callable[[AgentRow], Any]]] = {
    "queriesActive": lambda row: row.queries_active,
    "queriesEntered": lambda row: row.queries_entered,
    "llmCalls": lambda row: row.llm_calls,
    "tokens": lambda row: row.input_tokens + row.output_tokens,
    "toolCalls": lambda row: row.tool_calls,
    "toolCallErrorRate": lambda row: row.tool_call_error_rate,
    "p95LatencyMs": lambda row: row.tool_call_latency_ms.p95,
}


def _ordered(
    rows: Sequence[Row], value: Callable[[Row], Any], tie: Callable[[Row], Any], order: Order, limit: int
) -> list[Row]:
    """`rows` by `value` in `order` (ties by `tie` ascending, nulls last), at most `limit` of them."""
    present = sorted((row for row in rows if value(row) is not None), key=tie)
    present.sort(key=value, reverse=order == "desc")  # stable: ties keep the `tie` order
    missing = sorted((row for row in rows if value(row) is None), key=tie)
    return [*present, *missing][:limit]


def _tool_row(group_by: ToolGroup, key: tuple[Any, ...], stats: ToolCallStats) -> ToolRow:
    named = dict(zip(_TOOL_GROUPS[group_by], key, strict=True))
    assert stats.latency_p95_ms is not None  # a group has rows
    assert stats.last_started_at_ms is not None
    return ToolRow(
        tool_id=named["tool_id"],
        tool_server_name=stats.server_name,
        tool_name=named.get("tool_name"),
        agent_id=named.get("agent_id"),
        calls=stats.calls,
        errors=stats.errors,
        error_rate=stats.errors / stats.calls,
        latency_ms=ToolLatency(avg=round(stats.latency_sum_ms / stats.calls, 3), p95=stats.latency_p95_ms),
        queries=stats.queries,
        last_used_at=iso_ms(stats.last_started_at_ms),
    )


async def tool_breakdown(
    store: Store,
    scope: Scope,
    span: TimeRange,
    filters: Filters,
    *,
    group_by: ToolGroup,
    sort: ToolSort,
    order: Order,
    limit: int,
) -> ToolBreakdown:
    """Tool calls per tool, per MCP server, or per agent and tool."""
    groups = [TOOL_CALLS.c[name] for name in _TOOL_GROUPS[group_by]]
    async with store.read() as session:
        found = await tool_call_stats(
            session, tool_call_conditions(span, scope, filters), groups=groups, with_server=True
        )
    rows = [_tool_row(group_by, key, stats) for key, stats in found.items()]

    def tie(row: ToolRow) -> tuple[str, str, str]:
        return (row.agent_id or "", row.tool_id, row.tool_name or "")

    return ToolBreakdown(
        window=span.window,
        from_=iso_ms(span.start_ms),
        to=iso_ms(span.end_ms),
        filters=filters.applied(),
        group_by=group_by,
        sort=sort,
        order=order,
        limit=limit,
        total=len(rows),
        tools=_ordered(rows, _TOOL_SORTS[sort], tie, order, limit),
    )


async def _entered(session: AsyncSession, scope: Scope, span: TimeRange, filters: Filters) -> dict[str, int]:
    agent = QUERY_LOGS.c.entry_agent_id
    statement = sa.select(agent, sa.func.count()).where(*query_conditions(span, scope, filters)).group_by(agent)
    return {str(name): int(count) for name, count in (await session.execute(statement)).all()}


async def _outbound(
    session: AsyncSession, scope: Scope, span: TimeRange, filters: Filters
) -> dict[str, tuple[int, ...]]:
    """Per agent: (queries active, llm calls, input tokens, output tokens, transfers out, delegations out)."""
    steps = QUERY_STEPS.c
    is_llm = steps.kind == "llm_generation"
    statement = (
        sa.select(
            steps.agent_id,
            sa.func.count(sa.distinct(steps.query_id)),
            count_if(is_llm),
            sa.func.sum(sa.case((is_llm, sa.func.coalesce(steps.input_tokens, 0)), else_=0)),
            sa.func.sum(sa.case((is_llm, sa.func.coalesce(steps.output_tokens, 0)), else_=0)),
            count_if(steps.kind == "transfer"),
            count_if(steps.kind == "delegation"),
        )
        .where(*step_conditions(span, scope, filters))
        .group_by(steps.agent_id)
    )
    return {str(row[0]): tuple(total(value) for value in row[1:]) for row in (await session.execute(statement)).all()}


async def _inbound(
    session: AsyncSession, scope: Scope, span: TimeRange, filters: Filters
) -> dict[str, tuple[int, int]]:
    """Per target agent: (transfers in, delegations in)."""
    steps = QUERY_STEPS.c
    statement = (
        sa.select(steps.target_agent_id, count_if(steps.kind == "transfer"), count_if(steps.kind == "delegation"))
        .where(*step_conditions(span, scope, filters), steps.kind.in_(("transfer", "delegation")))
        .where(steps.target_agent_id.is_not(None))
        .group_by(steps.target_agent_id)
    )
    return {str(name): (total(a), total(b)) for name, a, b in (await session.execute(statement)).all()}


async def agent_breakdown(
    store: Store, scope: Scope, span: TimeRange, filters: Filters, *, sort: AgentSort, order: Order, limit: int
) -> AgentBreakdown:
    """Each agent's queries, model calls, tokens, tool calls and hops (`filters`: only `graph_id` applies)."""
    filters = Filters(graph_id=filters.graph_id)
    async with store.read() as session:
        entered = await _entered(session, scope, span, filters)
        outbound = await _outbound(session, scope, span, filters)
        inbound = await _inbound(session, scope, span, filters)
        by_agent = await tool_call_stats(
            session, tool_call_conditions(span, scope, filters), groups=[TOOL_CALLS.c.agent_id]
        )
    calls = {str(key[0]): stats for key, stats in by_agent.items()}
    rows: list[AgentRow] = []
    for agent in {*entered, *outbound, *inbound, *calls}:
        active, llm_calls, input_tokens, output_tokens, transfers_out, delegations_out = outbound.get(agent, (0,) * 6)
        transfers_in, delegations_in = inbound.get(agent, (0, 0))
        made = calls.get(agent)
        rows.append(
            AgentRow(
                agent_id=agent,
                queries_entered=entered.get(agent, 0),
                queries_active=active,
                llm_calls=llm_calls,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                tool_calls=made.calls if made else 0,
                tool_call_error_rate=ratio(made.errors, made.calls) if made else None,
                tool_call_latency_ms=DurationStats(
                    avg=mean(made.latency_sum_ms, made.calls) if made else None,
                    p95=made.latency_p95_ms if made else None,
                ),
                transfers_in=transfers_in,
                transfers_out=transfers_out,
                delegations_in=delegations_in,
                delegations_out=delegations_out,
            )
        )
    return AgentBreakdown(
        window=span.window,
        from_=iso_ms(span.start_ms),
        to=iso_ms(span.end_ms),
        filters=filters.applied(),
        sort=sort,
        order=order,
        limit=limit,
        total=len(rows),
        agents=_ordered(rows, _AGENT_SORTS[sort], lambda row: row.agent_id, order, limit),
    )
