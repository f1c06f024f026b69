"""Issue 6's "done when", end to end: an operator reads, measures and gates what the example graph does.

The example graph `graphs/customer-support.json` runs for real: the runtime app with its full lifespan
(migrations, `--graphs` loading, MCP pool, query-log writer) serves it over loopback next to the two example
services (`examples/support_tools_mcp.py`, `examples/profile_service.py`), and the offline demo model drives
it. Customers talk to it through the `openai` SDK and `/api/chat`; then the operator lists the queries, reads
one's step trace with timings, finds the slow and failing tools in the analytics (a failing call comes from
stopping the MCP server), switches a tool to `require_approval`, approves the paused call from the stream,
and finds the approval in that run's query log. The second test runs `examples/operate.py`, which does the
same round from the command line.

The app runs in-process (not `inkeep-runtime serve` in a subprocess) only to skip litellm's warm-up, which
takes 5 to 30 s per start here; the graph names no model, so the offline model answers either way. Query
logs are written in the background (every ~0.5 s), so every read of them polls with a bounded wait.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from openai import AsyncOpenAI

from inkeep_runtime import Settings, create_app
from inkeep_runtime.llm.offline import MARKER, OfflineModelClient
from inkeep_runtime.store.engine import Store
from tests.fakes.servers import serve

ROOT = Path(__file__).resolve().parent.parent
GRAPH = "customer-support"
CRUD = "/tenants/default/crud/projects/default"
RUN = "/tenants/default/projects/default"
ADMIN_TOKEN = "operator-secret"
WAIT_S = 10.0
"""Longest wait for the query-log writer (it flushes every ~0.5 s)."""

DASHBOARD = "The dashboard shows an error after the install"
FOLLOW_UP = "Could the api be affected as well?"
BILLING = "I was charged twice for my subscription this month"
WEBHOOKS = "Webhooks are broken after the install, please check"
DIAGNOSE = "Please run diagnostics: the install crashes with a timeout"


def _example(name: str) -> ModuleType:
    """A fresh copy of an example module (a new MCP server object each time, so it can start again)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SupportDemo:
    """`make serve` in-process: the runtime with graphs/, the demo MCP server and the profile service."""

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack
        self._mcp: AsyncExitStack | None = None
        self.mcp_port = 0
        self.base = ""
        self.admin: httpx.AsyncClient
        self.key = ""

    async def start_mcp(self) -> None:
        """Start the demo MCP server (again on the same port after `stop_mcp`)."""
        self._mcp = AsyncExitStack()
        app = _example("support_tools_mcp").server.streamable_http_app()
        url = await self._mcp.enter_async_context(serve(app, port=self.mcp_port))
        self.mcp_port = int(url.rsplit(":", 1)[1])

    async def stop_mcp(self) -> None:
        """Stop the demo MCP server: its tool calls fail until it starts again."""
        assert self._mcp is not None
        await self._mcp.aclose()
        self._mcp = None

    async def start(self, store: Store, tmp_path: Path) -> None:
        await self.start_mcp()
        self._stack.push_async_callback(self._close_mcp)
        profiles = await self._stack.enter_async_context(serve(_example("profile_service").app))
        document = (ROOT / "graphs" / f"{GRAPH}.json").read_text()
        assert "http://127.0.0.1:3011" in document, "the example graph's MCP server moved: update this test"
        assert "http://127.0.0.1:3012" in document, "the example graph's profile service moved: update this test"
        document = document.replace("http://127.0.0.1:3011", f"http://127.0.0.1:{self.mcp_port}")
        document = document.replace("http://127.0.0.1:3012", profiles)
        graphs = tmp_path / "graphs"
        graphs.mkdir()
        (graphs / f"{GRAPH}.json").write_text(document)
        settings = Settings.from_env(
            {},
            database_url="sqlite+aiosqlite:///:memory:",  # unused: the store fixture's database serves
            graphs_dir=graphs,
            admin_token=ADMIN_TOKEN,
            approval_poll_s=0.1,
        )
        app = create_app(settings, store=store, llm=OfflineModelClient(chunk_delay_s=0))  # llm: no litellm warm-up
        self.base = await self._stack.enter_async_context(serve(app))
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.admin = await self._stack.enter_async_context(
            httpx.AsyncClient(base_url=self.base, headers=headers, timeout=20)
        )
        created = await self.admin.post(f"{CRUD}/api-keys", json={"graphId": GRAPH})
        assert created.status_code == 201, created.text
        self.key = created.json()["data"]["key"]

    async def _close_mcp(self) -> None:
        if self._mcp is not None:
            await self._mcp.aclose()

    def openai(self) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=f"{self.base}{RUN}/graphs/{GRAPH}/v1", api_key=self.key, max_retries=0)

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.admin.get(f"{CRUD}{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()["data"]


@pytest.fixture
async def demo(store: Store, tmp_path: Path) -> AsyncIterator[SupportDemo]:
    async with AsyncExitStack() as stack:
        running = SupportDemo(stack)
        await running.start(store, tmp_path)
        yield running


async def _poll(read: Callable[[], Awaitable[Any]], is_done: Callable[[Any], bool], what: str) -> Any:
    """Read until `is_done`, for at most `WAIT_S` (the query-log writer is asynchronous)."""
    deadline = anyio.current_time() + WAIT_S
    while True:
        value = await read()
        if is_done(value):
            return value
        if anyio.current_time() > deadline:
            msg = f"{what}: still not there after {WAIT_S} s; last read: {value!r}"
            raise AssertionError(msg)
        await anyio.sleep(0.1)


def _ms(start: str, end: str) -> int:
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000)


# --- the customers ----------------------------------------------------------------------------------------------


async def _openai_chat(
    demo: SupportDemo, text: str, *, user: str, conversation_id: str | None = None, stream: bool = True
) -> tuple[str, str]:
    """One turn through the `openai` SDK; (conversation id, answer)."""
    extra: dict[str, Any] = {"requestContext": {"userId": user}}
    if conversation_id:
        extra["conversationId"] = conversation_id
    messages: Any = [{"role": "user", "content": text}]
    async with demo.openai() as client:
        if not stream:
            raw = await client.chat.completions.with_raw_response.create(
                model=GRAPH, messages=messages, extra_body=extra
            )
            answer = raw.parse().choices[0].message.content or ""
            return raw.headers["x-conversation-id"], answer
        chunks = await client.chat.completions.create(model=GRAPH, messages=messages, stream=True, extra_body=extra)
        pieces = [chunk.choices[0].delta.content or "" async for chunk in chunks if chunk.choices]
        return chunks.response.headers["x-conversation-id"], "".join(pieces)


async def _ui_chat(demo: SupportDemo, text: str, *, user: str) -> tuple[str, list[dict[str, Any]]]:
    """One turn through `/api/chat`; (conversation id, the stream's parts)."""
    body = {
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
        "requestContext": {"userId": user},
    }
    headers = {"Authorization": f"Bearer {demo.key}"}
    async with httpx.AsyncClient(base_url=demo.base, timeout=20) as http:
        response = await http.post(f"{RUN}/graphs/{GRAPH}/api/chat", json=body, headers=headers)
    assert response.status_code == 200, response.text
    parts = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    return response.headers["x-conversation-id"], parts


async def _conversations(demo: SupportDemo) -> list[tuple[str, str]]:
    """A few customers' turns, one of them while the MCP server is down: (conversation id, input), in order."""
    first, answer = await _openai_chat(demo, DASHBOARD, user="ada")
    assert answer.startswith(MARKER)
    assert "check_service_status returned “dashboard: operational”" in answer
    same, follow_up = await _openai_chat(demo, FOLLOW_UP, user="ada", conversation_id=first, stream=False)
    assert same == first
    assert follow_up.startswith(MARKER)
    billing, parts = await _ui_chat(demo, BILLING, user="grace")
    assert parts[-1]["type"] == "finish"
    await demo.stop_mcp()
    try:
        broken, answer = await _openai_chat(demo, WEBHOOKS, user="alan", stream=False)
    finally:
        await demo.start_mcp()
    assert "check_service_status returned “Error: Tool 'check_service_status' failed" in answer
    return [(first, DASHBOARD), (first, FOLLOW_UP), (billing, BILLING), (broken, WEBHOOKS)]


# --- the operator -----------------------------------------------------------------------------------------------


def _check_timings(trace: dict[str, Any]) -> None:
    """Steps are in order, start inside the query and end by its end (1 ms of rounding allowed)."""
    query, steps = trace["query"], trace["steps"]
    assert [step["seq"] for step in steps] == list(range(1, len(steps) + 1))
    offsets = [_ms(query["startedAt"], step["startedAt"]) for step in steps]
    assert offsets == sorted(offsets)
    assert offsets[0] >= 0
    for offset, step in zip(offsets, steps, strict=True):
        assert step["durationMs"] >= 0
        assert offset + step["durationMs"] <= query["durationMs"] + 1, step
    for group in trace["toolCallGroups"]:
        step = next(step for step in steps if step["id"] == group["stepId"])
        for call in group["toolCalls"]:
            assert _ms(step["startedAt"], call["startedAt"]) >= 0
            assert call["latencyMs"] <= step["durationMs"] + 1


async def _read_traces(demo: SupportDemo, sent: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The list shows every turn, newest first, with its steps; return their traces, oldest first."""
    listed = await _poll(lambda: demo.get("/query-logs", graphId=GRAPH), lambda d: len(d) >= len(sent), "logs")
    assert [(item["conversationId"], item["input"]) for item in listed] == sent[::-1]
    assert [item["startedAt"] for item in listed] == sorted((item["startedAt"] for item in listed), reverse=True)
    assert all(item["status"] == "success" and item["llmCalls"] >= 1 for item in listed)
    same = await demo.get("/query-logs", conversationId=sent[0][0])
    assert [item["input"] for item in same] == [FOLLOW_UP, DASHBOARD]
    return [await demo.get(f"/query-logs/{item['id']}/trace") for item in reversed(listed)]


def _check_dashboard_trace(trace: dict[str, Any]) -> None:
    steps = trace["steps"]
    kinds = [(step["kind"], step["agentId"]) for step in steps]
    assert kinds == [
        ("context_fetch", "router"),
        ("llm_generation", "router"),
        ("transfer", "router"),
        ("llm_generation", "technical"),
        ("tool_call_group", "technical"),
        ("llm_generation", "technical"),
    ]
    assert (steps[0]["name"], steps[0]["status"]) == ("userProfile", "success")
    assert steps[2]["targetAgentId"] == "technical"
    assert all(step["model"] == "mock/inkeep-demo" and step["inputTokens"] for step in steps[1::2])
    [group] = trace["toolCallGroups"]
    [call] = group["toolCalls"]
    assert group["stepId"] == steps[4]["id"]
    assert (call["toolId"], call["toolName"], call["success"]) == ("support-tools", "check_service_status", True)
    assert (call["permissionMode"], call["approval"], call["resultPreview"]) == (
        "always_execute",
        None,
        "dashboard: operational",
    )
    query = trace["query"]
    assert (query["entryAgentId"], query["finalAgentId"], query["transfers"], query["toolCalls"]) == (
        "router",
        "technical",
        1,
        1,
    )
    assert "The customer is Ada Lovelace" not in json.dumps(trace)  # prompts (rendered from the profile) are not logged


async def _check_tool_analytics(demo: SupportDemo, traces: list[dict[str, Any]]) -> None:
    """The analytics agree with the traces: calls, failures, rates and latency per tool."""
    calls = [call for trace in traces for group in trace["toolCallGroups"] for call in group["toolCalls"]]
    failed = [call for call in calls if not call["success"]]
    assert [(call["toolName"], call["errorType"]) for call in failed] == [("check_service_status", "mcp_connection")]
    data = await demo.get("/analytics/tools", window="1h", sort="errorRate")
    rows = {row["toolName"]: row for row in data["tools"]}
    assert set(rows) == {call["toolName"] for call in calls}
    for name, row in rows.items():
        mine = [call for call in calls if call["toolName"] == name]
        errors = sum(not call["success"] for call in mine)
        assert (row["toolId"], row["calls"], row["errors"]) == ("support-tools", len(mine), errors)
        assert row["errorRate"] == pytest.approx(errors / len(mine))
        latencies = sorted(call["latencyMs"] for call in mine)
        assert row["latencyMs"]["p95"] == latencies[-1]  # nearest rank of fewer than 20 calls: the slowest
        assert row["latencyMs"]["avg"] == pytest.approx(sum(latencies) / len(latencies), abs=0.001)
    assert data["tools"][0]["toolName"] == "check_service_status"  # the failing one first
    errors = await demo.get("/analytics/errors", window="1h")
    assert [(kind["errorType"], kind["count"]) for kind in errors["types"]] == [("mcp_connection", 1)]
    assert errors["totalToolCalls"] == len(calls)


async def _approve_from_the_stream(demo: SupportDemo) -> tuple[str, str, list[dict[str, Any]]]:
    """Stream a chat that calls the gated tool; approve the call when the stream asks. (query id, answer, ops)."""
    operations: list[dict[str, Any]] = []
    text: list[str] = []
    async with demo.openai() as client, httpx.AsyncClient(base_url=demo.base, timeout=20) as run_api:
        chunks = await client.chat.completions.create(
            model=GRAPH,
            messages=[{"role": "user", "content": DIAGNOSE}],
            stream=True,
            extra_body={"requestContext": {"userId": "ada"}},
            extra_headers={"x-emit-operations": "true"},
        )
        async for chunk in chunks:
            content = chunk.choices[0].delta.content or "" if chunk.choices else ""
            if not content.startswith('{"type":'):
                text.append(content)
                continue
            item = json.loads(content)
            if item["type"] != "data-operation":
                continue
            operations.append(item["data"])
            if item["data"]["type"] == "approval_requested":
                asked = item["data"]["details"]["data"]
                pending = await demo.get("/tool-approvals", status="pending")
                assert [(a["approvalId"], a["toolName"], a["runWaiting"]) for a in pending] == [
                    (asked["approvalId"], "run_diagnostics", True)
                ]
                decided = await run_api.post(
                    f"{RUN}/tool-approvals/{asked['toolCallId']}",
                    json={"decision": "approve"},
                    headers={"Authorization": f"Bearer {demo.key}"},
                )
                assert decided.status_code == 200, decided.text
                assert decided.json()["data"]["status"] == "approved"
    asked = next(op for op in operations if op["type"] == "approval_requested")["details"]["data"]
    return asked["queryId"], "".join(text), operations


async def test_operator_reads_the_logs_finds_failing_tools_and_approves_a_call(demo: SupportDemo) -> None:
    sent = await _conversations(demo)

    traces = await _read_traces(demo, sent)
    for trace in traces:
        _check_timings(trace)
    _check_dashboard_trace(traces[0])
    billing = [(step["kind"], step["agentId"], step["targetAgentId"]) for step in traces[2]["steps"]]
    assert ("transfer", "router", "billing") in billing
    assert ("delegation", "billing", "account-lookup") in billing
    assert ("llm_generation", "account-lookup", None) in billing  # what the delegate did, out of the user's sight
    await _check_tool_analytics(demo, traces)

    change = {"toolId": "support-tools", "toolName": "run_diagnostics", "mode": "require_approval"}
    put = await demo.admin.put(f"{CRUD}/agents/technical/tool-permissions", json={"permissions": [change]})
    assert put.status_code == 200, put.text
    listed = await demo.get("/agents/technical/tool-permissions")
    assert {"toolName": "run_diagnostics", "mode": "require_approval", "source": "explicit"}.items() <= next(
        p for p in listed if p["toolName"] == "run_diagnostics"
    ).items()

    query_id, answer, operations = await _approve_from_the_stream(demo)
    kinds = [op["type"] for op in operations]
    assert kinds[kinds.index("tool_call") :][:4] == [
        "tool_call",
        "approval_requested",
        "approval_resolved",
        "tool_result",
    ]
    assert operations[kinds.index("approval_resolved")]["details"]["data"]["decision"] == "approved"
    assert "run_diagnostics returned “Diagnostics ticket DIAG-" in answer

    trace = await _poll(
        lambda: demo.admin.get(f"{CRUD}/query-logs/{query_id}/trace"), lambda r: r.status_code == 200, "approved run"
    )
    trace = trace.json()["data"]
    _check_timings(trace)
    [call] = [call for group in trace["toolCallGroups"] for call in group["toolCalls"]]
    assert (call["toolName"], call["permissionMode"], call["approval"], call["success"]) == (
        "run_diagnostics",
        "require_approval",
        "approved",
        True,
    )
    assert call["resultPreview"].startswith("Diagnostics ticket DIAG-")
    summary = await demo.get("/analytics/summary", window="1h")
    assert (summary["current"]["queries"], summary["current"]["approvalsRequested"]) == (len(sent) + 1, 1)


async def test_operate_example_runs_the_round_from_the_command_line(demo: SupportDemo) -> None:
    _, answer = await _openai_chat(demo, DASHBOARD, user="ada")
    assert answer.startswith(MARKER)
    await _poll(lambda: demo.get("/query-logs"), bool, "the first query")
    command = [sys.executable, str(ROOT / "examples" / "operate.py"), "--base-url", demo.base]
    done = await anyio.run_process(
        [*command, "--admin-token", ADMIN_TOKEN, "--window", "1h"], check=False, env={"PATH": "/usr/bin:/bin"}
    )
    output = done.stdout.decode()
    assert done.returncode == 0, output + done.stderr.decode()
    for expected in (
        f"“{DASHBOARD}”",  # the list
        "transfer      router → technical",  # the first trace
        "└─ check_service_status on support-tools",
        "check_service_status     support-tools      1      0     0%",  # the tools table
        "(created an API key for graph 'customer-support')",
        "run_diagnostics is now require_approval (was always_execute)",
        "approval requested: run_diagnostics for agent technical",
        "stream waiting: True",
        "approved → approved",
        "tool result: “Diagnostics ticket DIAG-",
        "[require_approval, approval approved]",  # the trace of the gated run
    ):
        assert expected in output, f"{expected!r} not in:\n{output}"
    listed = await demo.get("/agents/technical/tool-permissions")
    assert next(p for p in listed if p["toolName"] == "run_diagnostics")["source"] == "default"  # put back
