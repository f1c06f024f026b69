"""The recorder end to end: a scripted run through the real executor, fake model and fake MCP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inkeep_runtime.events import RunCompleted, RunFailed, TextDelta
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import TARGET, agent, graph_doc, mcp_tool, push, request
from tests.observe.querylog_harness import log_row, recording, rows, run_recorded, steps_and_calls

pytestmark = pytest.mark.usefixtures("backend")


def _step(seq: int, kind: str, agent_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "kind": kind,
        "agent_id": agent_id,
        "query_id": fields.pop("query_id"),
        "target_agent_id": None,
        "model": None,
        "name": None,
        "input_tokens": None,
        "output_tokens": None,
        "status": "success",
        "error_message": None,
        **fields,
    }


async def test_scripted_run_records_query_steps_and_tool_calls(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [
        agent("router", canTransferTo=["billing"]),
        agent("billing", canDelegateTo=["research"], tools=["tools"]),
        agent("research", tools=["tools"]),
    ]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, tools={"tools": mcp_tool(fake_mcp.url)}))
    fake_llm.add(
        Turn.tool_calls([("t1", "transfer_to_billing", {"reason": "an invoice"})], text="Routing you.", usage=(11, 4)),
        Turn.tool_calls(
            [("c_fail", "fail", {"message": "disk on fire"}), ("c_add", "add", {"a": 2, "b": 3})], usage=(12, 5)
        ),
        Turn.tool_calls([("d1", "delegate_to_research", {"message": "Find invoice 7."})], usage=(13, 6)),
        Turn.tool_calls([("c_echo", "echo", {"text": "invoice 7"})], usage=(14, 7)),
        Turn.text("Invoice 7 is paid.", usage=(15, 8)),
        Turn.text("Your invoice is paid.", usage=(16, 9)),
    )
    async with recording(store) as (runner, writer):
        prepared, events = await run_recorded(runner, writer, "Is my invoice paid?")
    assert isinstance(events[-1], RunCompleted)
    q = prepared.run_id
    assert await log_row(store) == {
        "tenant_id": "t1",
        "project_id": "p1",
        "id": q,
        "graph_id": "g",
        "conversation_id": prepared.conversation_id,
        "source": "chat_completions",
        "entry_agent_id": "router",
        "final_agent_id": "billing",
        "input": "Is my invoice paid?",
        "output": "Routing you.Your invoice is paid.",
        "status": "success",
        "error_type": None,
        "error_message": None,
        "llm_calls": 6,
        "input_tokens": 11 + 12 + 13 + 14 + 15 + 16,
        "output_tokens": 4 + 5 + 6 + 7 + 8 + 9,
        "tool_calls": 3,
        "tool_errors": 1,
        "transfers": 1,
        "delegations": 1,
        "tool_ids": ["tools"],
        "usage": [
            {"agentId": "router", "model": "openai/fake", "inputTokens": 11, "outputTokens": 4, "llmCalls": 1},
            {"agentId": "billing", "model": "openai/fake", "inputTokens": 41, "outputTokens": 20, "llmCalls": 3},
            {"agentId": "research", "model": "openai/fake", "inputTokens": 29, "outputTokens": 15, "llmCalls": 2},
        ],
        "api_key_id": None,
        "end_user_id": None,
        "trace_id": None,
        "span_id": None,
    }
    steps, calls = await steps_and_calls(store)
    llm = {"model": "openai/fake"}
    assert steps == [
        _step(1, "llm_generation", "router", query_id=q, **llm, input_tokens=11, output_tokens=4),
        _step(2, "transfer", "router", query_id=q, target_agent_id="billing"),
        _step(3, "llm_generation", "billing", query_id=q, **llm, input_tokens=12, output_tokens=5),
        _step(
            4,
            "tool_call_group",
            "billing",
            query_id=q,
            status="error",
            error_message="fail: Error: Error executing tool fail: disk on fire",
        ),
        _step(5, "llm_generation", "billing", query_id=q, **llm, input_tokens=13, output_tokens=6),
        _step(6, "delegation", "billing", query_id=q, target_agent_id="research"),
        _step(7, "llm_generation", "research", query_id=q, **llm, input_tokens=14, output_tokens=7),
        _step(8, "tool_call_group", "research", query_id=q),
        _step(9, "llm_generation", "research", query_id=q, **llm, input_tokens=15, output_tokens=8),
        _step(10, "delegation_return", "research", query_id=q, target_agent_id="billing"),
        _step(11, "llm_generation", "billing", query_id=q, **llm, input_tokens=16, output_tokens=9),
    ]
    common = {
        "query_id": q,
        "tool_id": "tools",
        "tool_server_name": "tools server",
        "arguments": None,
        "permission_mode": "always_execute",
        "approval": None,
    }
    ok = {"success": True, "error_type": None, "error_message": None}
    assert calls == [
        {
            **common,
            **ok,
            "call_id": "c_add",
            "step": 4,
            "agent_id": "billing",
            "tool_name": "add",
            "result_preview": "5",
        },
        {
            **common,
            **ok,
            "call_id": "c_echo",
            "step": 8,
            "agent_id": "research",
            "tool_name": "echo",
            "result_preview": "invoice 7",
        },
        {
            **common,
            "call_id": "c_fail",
            "step": 4,
            "agent_id": "billing",
            "tool_name": "fail",
            "result_preview": "Error: Error executing tool fail: disk on fire",
            "success": False,
            "error_type": "tool_error",
            "error_message": "Error: Error executing tool fail: disk on fire",
        },
    ]


async def test_llm_failure_is_an_error_with_its_type_and_an_open_step_closed(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("solo")]))
    fake_llm.add(Turn.error(400, "The prompt is not acceptable."))
    async with recording(store) as (runner, writer):
        _prepared, events = await run_recorded(runner, writer, "hello")
    assert isinstance(events[-1], RunFailed)
    log = await log_row(store)
    assert (log["status"], log["error_type"], log["llm_calls"]) == ("error", "llm_error", 1)
    assert log["error_message"] == events[-1].problem.detail
    steps, _calls = await steps_and_calls(store)
    assert [(s["kind"], s["status"], s["error_message"]) for s in steps] == [
        ("llm_generation", "error", events[-1].problem.detail)
    ]


async def test_tool_timeout_is_classified_as_timeout(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    tool = mcp_tool(fake_mcp.url)
    tool["config"]["mcp"]["server"]["timeout"] = 200  # milliseconds
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("calc", tools=["tools"])], tools={"tools": tool}))
    fake_llm.add(Turn.tool_calls([("c1", "slow", {"seconds": 5})]), Turn.text("That took too long."))
    async with recording(store) as (runner, writer):
        await run_recorded(runner, writer, "go slow")
    (call,) = await rows(store, "tool_calls")
    assert (call["success"], call["error_type"]) == (False, "timeout")
    assert 150 <= call["latency_ms"] < 3000
    assert (await log_row(store))["status"] == "success"  # the model answered after the failed call


async def test_arguments_are_captured_redacted_only_when_enabled(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(
        store,
        tmp_path,
        graph_doc(fake_llm.base_url, [agent("calc", tools=["tools"])], tools={"tools": mcp_tool(fake_mcp.url)}),
    )
    arguments = {"text": "x" * 5000}
    fake_llm.add(Turn.tool_calls([("c1", "echo", arguments)]), Turn.text("Echoed it back."))
    fake_llm.add(Turn.tool_calls([("c2", "echo", {"text": "hi"})]), Turn.text("Echoed the greeting."))
    async with recording(store, capture_arguments=True) as (runner, writer):
        await run_recorded(runner, writer, "echo a lot")
    async with recording(store) as (runner, writer):
        await run_recorded(runner, writer, "echo hi")
    long_call, short_call = await rows(store, "tool_calls", "call_id")
    assert set(long_call["arguments"]) == {"_truncated"}  # too long: kept as a truncated JSON text
    assert long_call["arguments"]["_truncated"].startswith('{"text": "xxx')
    assert len(long_call["result_preview"]) < 1100
    assert short_call["arguments"] is None


async def test_secret_arguments_are_redacted(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(
        store,
        tmp_path,
        graph_doc(fake_llm.base_url, [agent("calc", tools=["tools"])], tools={"tools": mcp_tool(fake_mcp.url)}),
    )
    fake_llm.add(Turn.tool_calls([("c1", "echo", {"text": "hi", "api_key": "sk-live-123"})]), Turn.text("Done here."))
    async with recording(store, capture_arguments=True) as (runner, writer):
        await run_recorded(runner, writer, "echo")
    (call,) = await rows(store, "tool_calls")
    assert call["arguments"] == {"text": "hi", "api_key": "[redacted]"}


async def test_closing_the_stream_early_records_a_cancelled_run(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("solo")]))
    fake_llm.add(Turn.text("One two three four five six seven eight", chunk_delay_s=0.05))
    async with recording(store) as (runner, writer):
        prepared = await runner.prepare(TARGET, request("count for me"))
        stream = runner.stream(prepared)
        async for event in stream:
            if isinstance(event, TextDelta):
                break  # the client went away after the first words
        await stream.aclose()  # type: ignore[attr-defined]
        await writer.flush()
    log = await log_row(store)
    assert (log["status"], log["error_type"], log["output"]) == ("cancelled", None, "One")
    steps, _ = await steps_and_calls(store)
    assert [(s["kind"], s["status"]) for s in steps] == [("llm_generation", "cancelled")]
