"""Synthetic query logs for `python -m bench.analytics`: realistic queries, steps and tool calls, bulk-loaded.

The traffic is deterministic (`random.Random(seed)`), spread evenly over the `days` before `now_ms` with
jitter, and shaped like a multi-agent support deployment: three graphs, five agents, eight MCP tools on
three servers. Per query: the entry agent's model call, then with some probability tool-call groups
(1-3 calls, log-normal latencies around 150 ms, ~6 % failing with the error taxonomy's classes, ~3 %
needing approval), a transfer (25 %), a delegation and its return (10 %), each followed by a model call.
About 3 % of queries fail and 1 % are cancelled.

Rows are bulk-loaded in one transaction: `executemany` on SQLite (sqlite3, synchronous, fine for a
bench), `COPY` through asyncpg on PostgreSQL.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Dataset", "generate", "load_postgres", "load_sqlite"]

QUERY_COLUMNS = (
    "tenant_id", "project_id", "id", "graph_id", "conversation_id", "source", "entry_agent_id", "final_agent_id",
    "input", "output", "status", "error_type", "error_message", "started_at_ms", "duration_ms", "llm_calls",
    "input_tokens", "output_tokens", "tool_calls", "tool_errors", "transfers", "delegations", "tool_ids", "usage",
)  # fmt: skip
STEP_COLUMNS = (
    "tenant_id", "project_id", "id", "query_id", "seq", "graph_id", "kind", "agent_id", "target_agent_id", "model",
    "name", "input_tokens", "output_tokens", "started_at_ms", "duration_ms", "status", "error_message",
)  # fmt: skip
CALL_COLUMNS = (
    "tenant_id", "project_id", "id", "call_id", "query_id", "step_id", "graph_id", "agent_id", "tool_id",
    "tool_server_name", "tool_name", "arguments", "result_preview", "permission_mode", "approval", "started_at_ms",
    "latency_ms", "success", "error_type", "error_message",
)  # fmt: skip

GRAPHS = ("support", "sales", "ops")
AGENTS = ("router", "billing", "technical", "researcher", "writer")
TOOLS = (
    ("srv_search", "Search", "web_search"),
    ("srv_search", "Search", "fetch_page"),
    ("srv_files", "Files", "read_file"),
    ("srv_files", "Files", "write_file"),
    ("srv_files", "Files", "list_dir"),
    ("srv_crm", "CRM", "lookup_customer"),
    ("srv_crm", "CRM", "update_ticket"),
    ("srv_crm", "CRM", "create_ticket"),
)
TOOL_ERRORS = ("timeout", "tool_error", "tool_error", "mcp_connection", "invalid_arguments", "auth", "rate_limited")
MODEL = "openai/gpt-4.1-mini"


@dataclass(slots=True)
class Dataset:
    """Rows for the three tables, as tuples in the column orders above."""

    queries: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    calls: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(slots=True)
class _Query:
    """One query under construction."""

    tenant: str
    project: str
    id: str
    graph: str
    clock: int
    steps: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    llm_calls: int = 0
    tool_ids: set[str] = field(default_factory=set)


class _Generator:
    def __init__(self, rng: random.Random, data: Dataset) -> None:
        self.rng = rng
        self.data = data

    def step(self, query: _Query, kind: str, agent: str, duration_ms: int, **values: Any) -> str:
        query.steps += 1
        step_id = f"{query.id}-s{query.steps}"
        row = {"target_agent_id": None, "model": None, "input_tokens": None, "output_tokens": None, **values}
        self.data.steps.append(
            (query.tenant, query.project, step_id, query.id, query.steps, query.graph, kind, agent,
             row["target_agent_id"], row["model"], None, row["input_tokens"], row["output_tokens"], query.clock,
             duration_ms, row.get("status", "success"), None)
        )  # fmt: skip
        query.clock += duration_ms
        return step_id

    def llm(self, query: _Query, agent: str, *, failed: bool = False) -> None:
        tokens_in, tokens_out = self.rng.randint(300, 4000), 0 if failed else self.rng.randint(20, 600)
        query.tokens_in += tokens_in
        query.tokens_out += tokens_out
        query.llm_calls += 1
        duration = int(self.rng.lognormvariate(6.6, 0.5))  # ~750 ms
        status = "error" if failed else "success"
        self.step(query, "llm_generation", agent, duration, model=MODEL, input_tokens=tokens_in,
                  output_tokens=tokens_out, status=status)  # fmt: skip

    def tool_group(self, query: _Query, agent: str) -> tuple[int, int]:
        group = self.step(query, "tool_call_group", agent, 0)
        start, slowest, failures = query.clock, 0, 0
        count = self.rng.choice((1, 1, 1, 2, 2, 3))
        for index in range(count):
            tool_id, server, name = self.rng.choice(TOOLS)
            query.tool_ids.add(tool_id)
            latency = int(self.rng.lognormvariate(5.0, 0.8))  # median ~150 ms, long tail
            roll = self.rng.random()
            mode, approval, ok, error = "always_execute", None, True, None
            if roll < 0.03:
                mode = "require_approval"
                approval = self.rng.choice(("approved", "approved", "approved", "rejected", "expired"))
                if approval != "approved":
                    ok, error, latency = False, "approval_rejected", 0
            elif roll < 0.09:
                ok, error = False, self.rng.choice(TOOL_ERRORS)
            failures += not ok
            slowest = max(slowest, latency)
            self.data.calls.append(
                (query.tenant, query.project, f"{group}-c{index}", f"call_{index}", query.id, group, query.graph, agent,
                 tool_id, server, name, None, None, mode, approval, start + index, latency, ok, error,
                 None if ok else f"{error} in {name}")
            )  # fmt: skip
        query.clock += slowest
        return count, failures

    def query(self, tenant: str, project: str, number: int, start_ms: int) -> None:
        rng = self.rng
        query = _Query(tenant, project, f"q{number:07d}", rng.choice(GRAPHS), start_ms)
        agent = entry = AGENTS[0] if rng.random() < 0.8 else rng.choice(AGENTS)
        calls = errors = transfers = delegations = 0
        roll = rng.random()
        status, error_type = ("error", rng.choice(("llm_error", "timeout"))) if roll < 0.03 else ("success", None)
        if 0.03 <= roll < 0.04:
            status = "cancelled"
        self.llm(query, agent)
        for _ in range(rng.choice((0, 0, 1, 1, 1, 2))):
            made, failed = self.tool_group(query, agent)
            calls, errors = calls + made, errors + failed
            self.llm(query, agent)
        if rng.random() < 0.25:
            target = rng.choice([a for a in AGENTS if a != agent])
            self.step(query, "transfer", agent, 1, target_agent_id=target)
            agent, transfers = target, 1
            self.llm(query, agent)
        if rng.random() < 0.10:
            delegate = rng.choice([a for a in AGENTS if a != agent])
            self.step(query, "delegation", agent, 1, target_agent_id=delegate)
            self.llm(query, delegate)
            if rng.random() < 0.5:
                made, failed = self.tool_group(query, delegate)
                calls, errors = calls + made, errors + failed
            self.step(query, "delegation_return", delegate, 1, target_agent_id=agent)
            delegations = 1
            self.llm(query, agent, failed=status == "error")
        usage = [{"agentId": entry, "model": MODEL, "inputTokens": query.tokens_in, "outputTokens": query.tokens_out,
                  "llmCalls": query.llm_calls}]  # fmt: skip
        self.data.queries.append(
            (tenant, project, query.id, query.graph, f"conv-{number % 20_000}", "chat_completions", entry, agent,
             f"question {number}", f"answer {number}", status, error_type, None if status != "error" else error_type,
             start_ms, query.clock - start_ms, query.llm_calls, query.tokens_in, query.tokens_out, calls, errors,
             transfers, delegations, json.dumps(sorted(query.tool_ids)), json.dumps(usage))
        )  # fmt: skip


def generate(*, tenant: str, project: str, queries: int, days: int, now_ms: int, seed: int = 6) -> Dataset:
    """`queries` queries spread evenly (with jitter) over the `days` before `now_ms`."""
    rng = random.Random(seed)
    data = Dataset()
    generator = _Generator(rng, data)
    span = days * 86_400_000
    spacing = span // max(queries, 1)
    for number in range(queries):
        start = now_ms - span + number * spacing + rng.randrange(max(spacing, 1))
        generator.query(tenant, project, number, start)
    return data


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def load_sqlite(path: str, data: Dataset) -> None:
    """Insert `data` into the migrated SQLite database at `path`, in one transaction."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.executemany(_insert_sql("query_logs", QUERY_COLUMNS), data.queries)
            connection.executemany(_insert_sql("query_steps", STEP_COLUMNS), data.steps)
            connection.executemany(_insert_sql("tool_calls", CALL_COLUMNS), data.calls)
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def load_postgres(dsn: str, data: Dataset) -> None:
    """COPY `data` into the migrated PostgreSQL database `dsn` (a plain `postgresql://` URL), in one transaction."""
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            for table, columns, rows in (
                ("query_logs", QUERY_COLUMNS, data.queries),
                ("query_steps", STEP_COLUMNS, data.steps),
                ("tool_calls", CALL_COLUMNS, data.calls),
            ):
                await connection.copy_records_to_table(table, records=rows, columns=list(columns))
                # Before the next COPY: its foreign-key checks are planned from these statistics, and a
                # `query_logs` still believed empty gets a sequential scan per checked row.
                await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()
