"""Query-log rows: batch inserts and retention for the writer, reads for the query-log routes.

Rows are plain dicts keyed by column name (`tables_observe.py`), the shape SQLAlchemy Core inserts and
returns. Lists page with a keyset on `(started_at_ms, id)`, newest first, so a page costs one index
range scan however deep it is, and equal timestamps never skip or repeat a row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope
from inkeep_runtime.store.tables_observe import QueryLog, QueryStep, ToolCallLog

__all__ = [
    "QueryFilter",
    "QueryRecord",
    "ToolTraffic",
    "delete_before",
    "get_query",
    "insert_records",
    "list_queries",
    "tool_servers_of",
    "tool_traffic",
    "trace_of",
]

_LOGS = cast(sa.Table, QueryLog.__table__)  # type: ignore[attr-defined]
_STEPS = cast(sa.Table, QueryStep.__table__)  # type: ignore[attr-defined]
_CALLS = cast(sa.Table, ToolCallLog.__table__)  # type: ignore[attr-defined]
_WRITE_SCOPE = "query_logs"
"""The advisory-lock key of query-log writes (they never conflict with definition writes)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryRecord:
    """One run's rows, ready to insert."""

    log: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


async def insert_records(store: Store, records: Sequence[QueryRecord]) -> None:
    """Insert `records` in one transaction (all or none)."""
    if not records:
        return
    steps = [step for record in records for step in record.steps]
    calls = [call for record in records for call in record.tool_calls]
    async with store.write(_WRITE_SCOPE) as session:
        await session.execute(sa.insert(_LOGS), [record.log for record in records])
        if steps:
            await session.execute(sa.insert(_STEPS), steps)
        if calls:
            await session.execute(sa.insert(_CALLS), calls)


async def delete_before(store: Store, cutoff_ms: int) -> int:
    """Delete queries (with their steps and tool calls) that started before `cutoff_ms`; return how many."""
    old = sa.select(_LOGS.c.tenant_id, _LOGS.c.project_id, _LOGS.c.id).where(_LOGS.c.started_at_ms < cutoff_ms)
    async with store.write(_WRITE_SCOPE) as session:
        for child in (_STEPS, _CALLS):  # explicit, so nothing depends on the driver enforcing ON DELETE CASCADE
            keys = sa.tuple_(child.c.tenant_id, child.c.project_id, child.c.query_id)
            await session.execute(sa.delete(child).where(keys.in_(old)))
        result = await session.execute(sa.delete(_LOGS).where(_LOGS.c.started_at_ms < cutoff_ms))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryFilter:
    """What the query list is narrowed to (None: no constraint)."""

    graph_id: str | None = None
    agent_id: str | None = None
    """Queries in which this agent took a step (entered, was transferred to, or was delegated to)."""
    tool_id: str | None = None
    tool_name: str | None = None
    status: str | None = None
    conversation_id: str | None = None
    end_user_id: str | None = None
    from_ms: int | None = None
    """Started at or after (inclusive)."""
    to_ms: int | None = None
    """Started before (exclusive)."""
    search: str | None = None
    """A case-insensitive substring of the input text."""


def _in_scope(table: sa.Table, scope: Scope) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.tenant_id == scope.tenant_id, table.c.project_id == scope.project_id)


def _same_query(table: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(
        table.c.tenant_id == _LOGS.c.tenant_id,
        table.c.project_id == _LOGS.c.project_id,
        table.c.query_id == _LOGS.c.id,
    )


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(scope: Scope, query: QueryFilter) -> list[sa.ColumnElement[bool]]:
    found = [_in_scope(_LOGS, scope)]
    for column, value in (
        (_LOGS.c.graph_id, query.graph_id),
        (_LOGS.c.status, query.status),
        (_LOGS.c.conversation_id, query.conversation_id),
        (_LOGS.c.end_user_id, query.end_user_id),
    ):
        if value is not None:
            found.append(column == value)
    if query.from_ms is not None:
        found.append(_LOGS.c.started_at_ms >= query.from_ms)
    if query.to_ms is not None:
        found.append(_LOGS.c.started_at_ms < query.to_ms)
    if query.search:
        found.append(sa.func.lower(_LOGS.c.input).like(_like(query.search), escape="\\"))
    if query.agent_id is not None:
        took_step = sa.exists().where(_same_query(_STEPS), _STEPS.c.agent_id == query.agent_id)
        found.append(sa.or_(_LOGS.c.entry_agent_id == query.agent_id, took_step))
    if query.tool_id is not None or query.tool_name is not None:
        called = sa.exists().where(_same_query(_CALLS))
        if query.tool_id is not None:
            called = called.where(_CALLS.c.tool_id == query.tool_id)
        if query.tool_name is not None:
            called = called.where(_CALLS.c.tool_name == query.tool_name)
        found.append(called)
    return found


async def list_queries(
    store: Store, scope: Scope, query: QueryFilter, *, limit: int, after: tuple[int, str] | None = None
) -> list[dict[str, Any]]:
    """Up to `limit` queries, newest first, strictly after the keyset position `after` (started_at_ms, id)."""
    statement = sa.select(_LOGS).where(*_conditions(scope, query))
    if after is not None:
        started, query_id = after
        statement = statement.where(
            sa.or_(
                _LOGS.c.started_at_ms < started,
                sa.and_(_LOGS.c.started_at_ms == started, _LOGS.c.id < query_id),
            )
        )
    statement = statement.order_by(_LOGS.c.started_at_ms.desc(), _LOGS.c.id.desc()).limit(limit)
    async with store.read() as session:
        return [dict(row) for row in (await session.execute(statement)).mappings()]


async def tool_servers_of(store: Store, scope: Scope, query_ids: Iterable[str]) -> dict[str, dict[str, str | None]]:
    """For each query, the tool servers it called: `{query id: {tool id: server name}}`."""
    ids = list(query_ids)
    if not ids:
        return {}
    statement = (
        sa.select(_CALLS.c.query_id, _CALLS.c.tool_id, sa.func.max(_CALLS.c.tool_server_name))
        .where(_in_scope(_CALLS, scope), _CALLS.c.query_id.in_(ids))
        .group_by(_CALLS.c.query_id, _CALLS.c.tool_id)
    )
    found: dict[str, dict[str, str | None]] = {}
    async with store.read() as session:
        for query_id, tool_id, name in await session.execute(statement):
            found.setdefault(query_id, {})[tool_id] = name
    return found


async def get_query(store: Store, scope: Scope, query_id: str) -> dict[str, Any] | None:
    """One query row, or None."""
    statement = sa.select(_LOGS).where(_in_scope(_LOGS, scope), _LOGS.c.id == query_id)
    async with store.read() as session:
        row = (await session.execute(statement)).mappings().first()
    return dict(row) if row is not None else None


async def trace_of(
    store: Store, scope: Scope, query_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]] | None:
    """A query with its steps (in order) and tool calls (by start), or None."""
    in_query = (_STEPS.c.query_id == query_id, _in_scope(_STEPS, scope))
    calls_in_query = (_CALLS.c.query_id == query_id, _in_scope(_CALLS, scope))
    async with store.read() as session:
        row = (
            (await session.execute(sa.select(_LOGS).where(_in_scope(_LOGS, scope), _LOGS.c.id == query_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        steps = (await session.execute(sa.select(_STEPS).where(*in_query).order_by(_STEPS.c.seq))).mappings().all()
        calls = (
            (
                await session.execute(
                    sa.select(_CALLS).where(*calls_in_query).order_by(_CALLS.c.started_at_ms, _CALLS.c.call_id)
                )
            )
            .mappings()
            .all()
        )
    return dict(row), [dict(s) for s in steps], [dict(c) for c in calls]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolTraffic:
    """What real calls of one tool server showed in a window."""

    calls: int
    errors: int
    p95_latency_ms: int | None


def _percentile(sorted_values: Sequence[int], fraction: float) -> int | None:
    """Nearest-rank percentile (the smallest value with at least `fraction` of the values at or below it)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def tool_traffic(store: Store, scope: Scope, since_ms: int) -> dict[str, ToolTraffic]:
    """Per tool server (`tool_id`): calls, failed calls and p95 latency of calls started at or after `since_ms`."""
    statement = (
        sa.select(_CALLS.c.tool_id, _CALLS.c.success, _CALLS.c.latency_ms)
        .where(_in_scope(_CALLS, scope), _CALLS.c.started_at_ms >= since_ms)
        .order_by(_CALLS.c.tool_id, _CALLS.c.latency_ms)
    )
    latencies: dict[str, list[int]] = {}
    errors: dict[str, int] = {}
    async with store.read() as session:
        for tool_id, success, latency_ms in await session.execute(statement):
            latencies.setdefault(tool_id, []).append(int(latency_ms))
            errors[tool_id] = errors.get(tool_id, 0) + (0 if success else 1)
    return {
        tool_id: ToolTraffic(calls=len(values), errors=errors[tool_id], p95_latency_ms=_percentile(values, 0.95))
        for tool_id, values in latencies.items()
    }
