"""Helpers for the query-log tests: a recording executor, stored rows without their random ids and times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import sqlalchemy as sa

from inkeep_runtime.events import RunEvent
from inkeep_runtime.graph.contract import PreparedRun
from inkeep_runtime.observe.recording import RecordingRunner
from inkeep_runtime.observe.writer import QueryLogWriter
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.query_logs import QueryRecord
from inkeep_runtime.store.rows import Rows, Scope
from inkeep_runtime.store.tables_observe import QueryLog, QueryStep, ToolCallLog
from tests.graph.harness import TARGET, executor, request

__all__ = ["create_project", "log_row", "make_record", "recording", "rows", "run_recorded", "steps_and_calls"]


@asynccontextmanager
async def recording(store: Store, **settings: Any) -> AsyncIterator[tuple[RecordingRunner, QueryLogWriter]]:
    """The real executor wrapped in a `RecordingRunner` whose writer the test flushes itself."""
    capture = bool(settings.pop("capture_arguments", False))
    writer = QueryLogWriter(store, retention_days=0)
    async with executor(store, **settings) as inner:
        yield RecordingRunner(inner, writer, capture_arguments=capture), writer


async def run_recorded(
    runner: RecordingRunner, writer: QueryLogWriter, text: str
) -> tuple[PreparedRun, list[RunEvent]]:
    """Run one turn through the recorder and store its record."""
    prepared = await runner.prepare(TARGET, request(text))
    events = [event async for event in runner.stream(prepared)]
    await writer.flush()
    return prepared, events


_TABLES: dict[str, sa.Table] = {
    str(model.__tablename__): cast(sa.Table, model.__table__)  # type: ignore[union-attr]
    for model in (QueryLog, QueryStep, ToolCallLog)
}


async def rows(store: Store, table: str, order: str = "started_at_ms") -> list[dict[str, Any]]:
    """Every row of a query-log table (through its SQLAlchemy table, so JSON and booleans come back typed)."""
    found = _TABLES[table]
    async with store.read() as session:
        result = await session.execute(sa.select(found).order_by(found.c[order]))
        return [dict(row) for row in result.mappings()]


async def log_row(store: Store) -> dict[str, Any]:
    """The only `query_logs` row, with its duration checked and removed."""
    (found,) = await rows(store, "query_logs")
    assert found["duration_ms"] >= 0
    assert found["started_at_ms"] > 1_600_000_000_000
    return {k: v for k, v in found.items() if k not in {"duration_ms", "started_at_ms"}}


async def steps_and_calls(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Steps (by seq) and tool calls (by call id), with ids replaced by step numbers and times checked."""
    steps = await rows(store, "query_steps", "seq")
    calls = await rows(store, "tool_calls", "call_id")
    seq_of = {step["id"]: step["seq"] for step in steps}
    starts = [step["started_at_ms"] for step in steps]
    assert starts == sorted(starts), "steps start in order"
    for step in steps:
        assert step["duration_ms"] >= 0
        for key in ("id", "started_at_ms", "duration_ms", "tenant_id", "project_id", "graph_id"):
            del step[key]
    for call in calls:
        assert call["latency_ms"] >= 0
        assert call["started_at_ms"] > 1_600_000_000_000
        call["step"] = seq_of[call.pop("step_id")]
        for key in ("id", "started_at_ms", "latency_ms", "tenant_id", "project_id", "graph_id"):
            del call[key]
    return steps, calls


def make_record(
    query_id: str,
    started_at_ms: int,
    *,
    tenant_id: str = "t1",
    project_id: str = "p1",
    calls: list[dict[str, Any]] | None = None,
    steps: list[dict[str, Any]] | None = None,
    **log: Any,
) -> QueryRecord:
    """A hand-made record (for the read-side tests); `calls` and `steps` need only their own fields."""
    scope = {"tenant_id": tenant_id, "project_id": project_id}
    graph_id = log.get("graph_id", "g")
    values: dict[str, Any] = {
        **scope,
        "id": query_id,
        "graph_id": graph_id,
        "conversation_id": f"conv-{query_id}",
        "source": "chat_completions",
        "entry_agent_id": "router",
        "final_agent_id": "router",
        "input": f"question {query_id}",
        "output": f"answer {query_id}",
        "status": "success",
        "error_type": None,
        "error_message": None,
        "started_at_ms": started_at_ms,
        "duration_ms": 100,
        "llm_calls": 1,
        "input_tokens": 10,
        "output_tokens": 5,
        "tool_calls": len(calls or []),
        "tool_errors": sum(not c.get("success", True) for c in calls or []),
        "transfers": 0,
        "delegations": 0,
        "tool_ids": list(dict.fromkeys(c["tool_id"] for c in calls or [])),
        "usage": [],
        "api_key_id": None,
        "end_user_id": None,
        "trace_id": None,
        "span_id": None,
        **log,
    }
    common = {**scope, "query_id": query_id, "graph_id": graph_id}
    made_steps = [
        {
            **common,
            "id": f"{query_id}-s{index}",
            "seq": index,
            "kind": "llm_generation",
            "agent_id": "router",
            "target_agent_id": None,
            "model": "m",
            "name": None,
            "input_tokens": None,
            "output_tokens": None,
            "started_at_ms": started_at_ms + index,
            "duration_ms": 1,
            "status": "success",
            "error_message": None,
            **step,
        }
        for index, step in enumerate(steps or [], start=1)
    ]
    made_calls = [
        {
            **common,
            "id": f"{query_id}-c{index}",
            "call_id": f"call_{index}",
            "step_id": None,
            "agent_id": "router",
            "tool_server_name": f"{call['tool_id']} server",
            "tool_name": "echo",
            "arguments": None,
            "result_preview": "ok",
            "permission_mode": "always_execute",
            "approval": None,
            "started_at_ms": started_at_ms + index,
            "latency_ms": 10,
            "success": True,
            "error_type": None,
            "error_message": None,
            **call,
        }
        for index, call in enumerate(calls or [], start=1)
    ]
    return QueryRecord(log=values, steps=made_steps, tool_calls=made_calls)


async def create_project(store: Store, tenant_id: str = "t1", project_id: str = "p1") -> None:
    """Create an empty project (query logs belong to one)."""
    async with store.write(f"{tenant_id}/{project_id}") as session:
        values = {"id": project_id, "name": project_id.upper(), "description": ""}
        await Rows(session).insert("projects", Scope(tenant_id), values, label="Project")
