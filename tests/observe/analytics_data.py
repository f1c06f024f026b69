"""A fixed, hand-built query-log data set for the analytics tests, inserted straight into the tables.

Times are offsets from `T0` = 2026-01-05T00:00:00Z (a Monday). The current range of most tests is
`[T0, T0 + 4h)`; the previous one `[T0 - 4h, T0)`.

| query | start | graph | entry → final | status | ms | tokens in/out | hops |
|---|---|---|---|---|---|---|---|
| q1 | +10m | g1 | a1 → a1 | success | 1000 | 100/50 | |
| q2 | +30m | g1 | a1 → a2 | success | 3000 | 200/80 | transfer a1→a2 |
| q3 | +1h (a bucket edge) | g1 | a1 → a1 | error llm_error | 2000 | 50/0 | |
| q4 | +1h59m | g2 | a1 → a1 | cancelled | 5000 | 300/120 | delegation a1→a3 |
| q5 | +3h | g1 | a2 → a4 | success | 4000 | 15/15 | transfer a2→a4 |
| q6 | +4h (the range end: excluded) | g1 | a1 → a1 | success | 9999 | 0/0 | |
| p1 | -30m | g1 | a1 → a1 | success | 800 | 20/5 | |
| p2 | -4h (previous range start) | g1 | a1 → a1 | error timeout | 1200 | 0/0 | |

| call | query | agent | toolId / name | start | ms | ok | errorType | permission / approval |
|---|---|---|---|---|---|---|---|---|
| c1 | q1 | a1 | srv1 search | +10m+100 | 100 | yes | | |
| c2 | q1 | a1 | srv1 search | +10m+200 | 300 | no | timeout | |
| c3 | q2 | a2 | srv2 read | +30m+500 | 50 | yes | | require_approval / approved |
| c4 | q3 | a1 | srv1 lookup | +1h (edge) | 700 | no | (null → internal) | |
| c5 | q3 | a1 | srv2 write | +1h+200 | 0 | no | approval_rejected | require_approval / rejected |
| c6 | q4 | a3 | srv1 search | +1h59m+10 | 200 | yes | | |
| c7 | q5 | a2 | srv2 read | +3h+100 | 400 | no | timeout | |
| c8 | p1 | a1 | srv1 search | -30m+100 | 1000 | yes | | |
| c9 | q6 | a1 | srv1 search | +4h+1 | 5 | yes | | |
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import pytest
import sqlalchemy as sa

from inkeep_runtime import Settings
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.tables import QueryLog, QueryStep, ToolCallLog

__all__ = [
    "BASE",
    "T0",
    "H",
    "M",
    "at",
    "insert_rows",
    "iso",
    "query_row",
    "seed",
    "settings",
    "step_row",
    "tool_call_row",
]

T0: Final = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp() * 1000)
M: Final = 60_000
H: Final = 60 * M
BASE: Final = "/tenants/t1/crud/projects/p1/analytics"
_SCOPE: Final = {"tenant_id": "t1", "project_id": "p1"}
_SERVERS: Final = {"srv1": "Search", "srv2": "Files"}


@pytest.fixture
def settings() -> Settings:
    """The app's settings with query-log retention off: the data set is older than the default 30 days, and
    the query-log writer's retention pass (at start-up) would otherwise delete it while a test runs."""
    return Settings.from_env({}, database_url="sqlite+aiosqlite:///:memory:", query_log_retention_days=0)


def at(offset_ms: int) -> int:
    """`T0 + offset_ms`."""
    return T0 + offset_ms


def iso(offset_ms: int) -> str:
    """`T0 + offset_ms` as the API writes timestamps."""
    moment = datetime.fromtimestamp(at(offset_ms) / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def query_row(query_id: str, start_ms: int, duration_ms: int, **values: Any) -> dict[str, Any]:
    """A `query_logs` row starting at epoch ms `start_ms`, with defaults for what the test does not care about."""
    row: dict[str, Any] = {
        **_SCOPE,
        "id": query_id,
        "graph_id": "g1",
        "conversation_id": f"conv-{query_id}",
        "source": "chat_completions",
        "entry_agent_id": "a1",
        "final_agent_id": "a1",
        "input": f"question {query_id}",
        "output": f"answer {query_id}",
        "status": "success",
        "error_type": None,
        "error_message": None,
        "started_at_ms": start_ms,
        "duration_ms": duration_ms,
        "llm_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "tool_calls": 0,
        "tool_errors": 0,
        "transfers": 0,
        "delegations": 0,
        "tool_ids": [],
        "usage": [],
    }
    row.update(values)
    return row


def step_row(
    step_id: str, query_id: str, seq: int, kind: str, agent: str, start_ms: int, **values: Any
) -> dict[str, Any]:
    """A `query_steps` row."""
    row: dict[str, Any] = {
        **_SCOPE,
        "id": step_id,
        "query_id": query_id,
        "seq": seq,
        "graph_id": "g1",
        "kind": kind,
        "agent_id": agent,
        "target_agent_id": None,
        "model": "openai/gpt-test" if kind == "llm_generation" else None,
        "input_tokens": None,
        "output_tokens": None,
        "started_at_ms": start_ms,
        "duration_ms": 10,
        "status": "success",
    }
    row.update(values)
    return row


def tool_call_row(
    call_id: str, query_id: str, agent: str, tool: str, start_ms: int, latency_ms: int, **values: Any
) -> dict[str, Any]:
    """A `tool_calls` row; `tool` is `server/name`."""
    tool_id, tool_name = tool.split("/")
    row: dict[str, Any] = {
        **_SCOPE,
        "id": call_id,
        "call_id": f"call_{call_id}",
        "query_id": query_id,
        "step_id": None,
        "graph_id": "g1",
        "agent_id": agent,
        "tool_id": tool_id,
        "tool_server_name": _SERVERS.get(tool_id),
        "tool_name": tool_name,
        "permission_mode": "always_execute",
        "approval": None,
        "started_at_ms": start_ms,
        "latency_ms": latency_ms,
        "success": True,
        "error_type": None,
    }
    row.update(values)
    return row


async def insert_rows(
    store: Store,
    queries: Iterable[dict[str, Any]],
    steps: Iterable[dict[str, Any]] = (),
    calls: Iterable[dict[str, Any]] = (),
) -> None:
    """Insert rows into the three tables in one transaction (the project `t1/p1` must exist)."""
    async with store.write("t1/p1") as session:
        for model, rows in ((QueryLog, list(queries)), (QueryStep, list(steps)), (ToolCallLog, list(calls))):
            if rows:
                await session.execute(sa.insert(model.__table__), rows)  # type: ignore[attr-defined]


def _queries() -> list[dict[str, Any]]:
    return [
        query_row("q1", at(10 * M), 1000, input_tokens=100, output_tokens=50),
        query_row("q2", at(30 * M), 3000, final_agent_id="a2", input_tokens=200, output_tokens=80, transfers=1),
        query_row("q3", at(H), 2000, status="error", error_type="llm_error", input_tokens=50),
        query_row(
            "q4",
            at(H + 59 * M),
            5000,
            graph_id="g2",
            status="cancelled",
            input_tokens=300,
            output_tokens=120,
            delegations=1,
        ),
        query_row(
            "q5",
            at(3 * H),
            4000,
            entry_agent_id="a2",
            final_agent_id="a4",
            input_tokens=15,
            output_tokens=15,
            transfers=1,
        ),
        query_row("q6", at(4 * H), 9999),
        query_row("p1", at(-30 * M), 800, input_tokens=20, output_tokens=5),
        query_row("p2", at(-4 * H), 1200, status="error", error_type="timeout"),
    ]


def _steps() -> list[dict[str, Any]]:
    def llm(step_id: str, query_id: str, seq: int, agent: str, start: int, tokens: tuple[int, int], **more: Any) -> Any:
        return step_row(
            step_id,
            query_id,
            seq,
            "llm_generation",
            agent,
            at(start),
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            **more,
        )

    q4 = H + 59 * M
    return [
        llm("s1", "q1", 1, "a1", 10 * M, (100, 50)),
        step_row("s2", "q1", 2, "tool_call_group", "a1", at(10 * M + 100)),
        llm("s3", "q2", 1, "a1", 30 * M, (120, 40)),
        step_row("s4", "q2", 2, "transfer", "a1", at(30 * M + 200), target_agent_id="a2"),
        llm("s5", "q2", 3, "a2", 30 * M + 300, (80, 40)),
        llm("s6", "q3", 1, "a1", H, (50, 0), status="error"),
        llm("s7", "q4", 1, "a1", q4, (200, 100), graph_id="g2"),
        step_row("s8", "q4", 2, "delegation", "a1", at(q4 + 1), graph_id="g2", target_agent_id="a3"),
        llm("s9", "q4", 3, "a3", q4 + 2, (100, 20), graph_id="g2"),
        step_row("s10", "q4", 4, "delegation_return", "a3", at(q4 + 20), graph_id="g2", target_agent_id="a1"),
        llm("s11", "q5", 1, "a2", 3 * H, (10, 10)),
        step_row("s12", "q5", 2, "transfer", "a2", at(3 * H + 200), target_agent_id="a4"),
        llm("s13", "q5", 3, "a4", 3 * H + 300, (5, 5)),
        llm("s14", "p1", 1, "a1", -30 * M, (20, 5)),
    ]


def _calls() -> list[dict[str, Any]]:
    approval = {"permission_mode": "require_approval"}
    return [
        tool_call_row("c1", "q1", "a1", "srv1/search", at(10 * M + 100), 100),
        tool_call_row("c2", "q1", "a1", "srv1/search", at(10 * M + 200), 300, success=False, error_type="timeout"),
        tool_call_row("c3", "q2", "a2", "srv2/read", at(30 * M + 500), 50, approval="approved", **approval),
        tool_call_row("c4", "q3", "a1", "srv1/lookup", at(H), 700, success=False),
        tool_call_row(
            "c5",
            "q3",
            "a1",
            "srv2/write",
            at(H + 200),
            0,
            success=False,
            error_type="approval_rejected",
            approval="rejected",
            **approval,
        ),
        tool_call_row("c6", "q4", "a3", "srv1/search", at(H + 59 * M + 10), 200, graph_id="g2"),
        tool_call_row("c7", "q5", "a2", "srv2/read", at(3 * H + 100), 400, success=False, error_type="timeout"),
        tool_call_row("c8", "p1", "a1", "srv1/search", at(-30 * M + 100), 1000),
        tool_call_row("c9", "q6", "a1", "srv1/search", at(4 * H + 1), 5),
    ]


async def seed(store: Store) -> None:
    """Insert the data set of the module docstring."""
    await insert_rows(store, _queries(), _steps(), _calls())
