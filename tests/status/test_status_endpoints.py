"""Status updates through the real executor and both chat endpoints, with a fake model on loopback.

The agent's last model call is held until the client has *seen* a summary: if summaries were delivered
only between the agent's own events, these tests would deadlock (and fail on the timeout) instead.
"""

from __future__ import annotations

import json
import shutil
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.agent.status_config import StatusUpdatesConfig
from inkeep_runtime.events import StatusSummary, TextDelta, ToolCallFinished, ToolCallStarted
from inkeep_runtime.graph.loader import GraphLoader
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, RecordedRequest, Turn
from tests.fakes.servers import serve
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import SCOPE, TARGET, agent, executor, graph_doc, mcp_tool, push, request

GRAPH = "/tenants/t1/projects/p1/graphs/g"
NODE_DIR = Path(__file__).parents[1] / "node"
SUMMARY = {"type": "retrieve", "label": "Echoed the order number", "details": {"order": 7}}
ANSWER = "Your order 7 has shipped."


@pytest.fixture
def backend() -> str:
    """The wire and the executor are under test here; SQLite is enough."""
    return "sqlite"


def script(fake_llm: FakeLLM, seen: anyio.Event | None) -> list[str]:
    """Agent: call `echo`, then (once `seen` is set) answer. Summarizer: one summary, then none."""
    models: list[str] = []
    agent_turns: deque[Turn] = deque([Turn.tool_calls([("c1", "echo", {"text": "order 7"})]), Turn.text(ANSWER)])
    summaries = deque([json.dumps({"summaries": [SUMMARY]})])

    async def respond(record: RecordedRequest) -> Turn:
        models.append(record.model)
        if record.model == "summarizer":
            return Turn.text(summaries.popleft() if summaries else '{"summaries": []}')
        turn = agent_turns.popleft()
        if not agent_turns and seen is not None:
            with anyio.fail_after(10):
                await seen.wait()
        return turn

    fake_llm.responder = respond
    return models


async def push_graph(store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer) -> None:
    document = graph_doc(
        fake_llm.base_url,
        [agent("a", tools=["tools"])],
        tools={"tools": mcp_tool(fake_mcp.url)},
        statusUpdates={"numEvents": 1, "model": "openai/summarizer", "prompt": "Mention order numbers."},
    )
    await push(store, tmp_path, document)


async def test_loader_reads_status_updates(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push_graph(store, tmp_path, fake_llm, fake_mcp)
    graph = await GraphLoader(store, version_of=lambda _key: 0).load(SCOPE, "g")
    assert graph.status_updates == StatusUpdatesConfig(
        num_events=1, model="openai/summarizer", prompt="Mention order numbers."
    )


async def test_executor_streams_a_summary_while_the_agent_waits(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push_graph(store, tmp_path, fake_llm, fake_mcp)
    seen = anyio.Event()
    models = script(fake_llm, seen)
    events = []
    async with executor(store) as runner:
        prepared = await runner.prepare(TARGET, request("Where is order 7?"))
        async for event in runner.stream(prepared):  # bounded by the held model call's 10 s wait for `seen`
            events.append(event)
            if isinstance(event, StatusSummary):
                seen.set()
    kinds = [type(event).__name__ for event in events]
    summary = kinds.index("StatusSummary")
    assert kinds.index("ToolCallStarted") < summary < kinds.index("TextDelta")
    assert events[summary] == StatusSummary(**SUMMARY)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER
    assert kinds[-1] == "RunCompleted"
    assert models.count("summarizer") >= 1
    summarizer_request = next(r for r in fake_llm.requests if r.model == "summarizer")
    prompt = json.dumps(summarizer_request.messages)
    assert "Where is order 7?" in prompt
    assert "Mention order numbers." in prompt
    assert isinstance(events[kinds.index("ToolCallStarted")], ToolCallStarted)
    assert isinstance(events[kinds.index("ToolCallFinished")], ToolCallFinished)


async def stream_lines(
    store: Store, path: str, body: dict[str, Any], on_line: Callable[[str], Awaitable[None]], **headers: str
) -> list[str]:
    app = create_app(Settings(dev=True), store=store)
    lines: list[str] = []
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=base, timeout=20) as http,
        http.stream("POST", path, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                lines.append(line.removeprefix("data: "))
                await on_line(lines[-1])
    return lines


async def test_api_chat_sends_data_summary_parts_the_ai_sdk_accepts(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push_graph(store, tmp_path, fake_llm, fake_mcp)
    seen = anyio.Event()
    script(fake_llm, seen)

    async def watch(line: str) -> None:
        if '"data-summary"' in line:
            seen.set()

    body = {"messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Where is order 7?"}]}]}
    lines = await stream_lines(store, f"{GRAPH}/api/chat", body, watch)
    parts = [json.loads(line) for line in lines if line != "[DONE]"]
    types = [part["type"] for part in parts]
    assert {"type": "data-summary", "data": SUMMARY} in parts
    assert types.index("data-summary") < types.index("text-delta")
    if not (NODE_DIR / "node_modules" / "ai").is_dir() or shutil.which("node") is None:
        pytest.skip("the `ai` package is not installed: run `npm ci --prefix tests/node`")
    sse = "".join(f"data: {line}\n\n" for line in lines)
    done = await anyio.run_process(["node", str(NODE_DIR / "parse_ui_stream.mjs")], input=sse.encode(), check=False)
    result = json.loads(done.stdout)
    assert result["ok"], result
    message_parts = result["message"]["parts"]
    assert {"type": "data-summary", "data": SUMMARY} in message_parts
    assert [p["text"] for p in message_parts if p["type"] == "text"] == [ANSWER]


async def test_chat_completions_sends_data_summary_with_operations(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push_graph(store, tmp_path, fake_llm, fake_mcp)
    seen = anyio.Event()
    script(fake_llm, seen)
    contents: list[str] = []

    async def watch(line: str) -> None:
        if line == "[DONE]":
            return
        choices = json.loads(line).get("choices") or [{}]
        content = choices[0].get("delta", {}).get("content")
        if content:
            contents.append(content)
            if '"data-summary"' in content:
                seen.set()

    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Where is order 7?"}]}
    await stream_lines(store, f"{GRAPH}/v1/chat/completions", body, watch, **{"x-emit-operations": "true"})
    summaries = [json.loads(c) for c in contents if c.startswith('{"type":"data-summary"')]
    assert summaries[0] == {"type": "data-summary", "data": SUMMARY}
    first_text = next(i for i, c in enumerate(contents) if not c.startswith("{"))
    assert contents.index(json.dumps(summaries[0], separators=(",", ":"))) < first_text
    assert "".join(c for c in contents if not c.startswith("{")) == ANSWER


async def test_plain_openai_clients_cost_no_summaries(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push_graph(store, tmp_path, fake_llm, fake_mcp)
    models = script(fake_llm, seen=None)

    async def ignore(_line: str) -> None:
        return

    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Where is order 7?"}]}
    lines = await stream_lines(store, f"{GRAPH}/v1/chat/completions", body, ignore)
    assert "data-summary" not in "".join(lines)
    assert models == ["fake", "fake"]  # the summarizer was never asked
