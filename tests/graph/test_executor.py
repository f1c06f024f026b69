"""The graph executor end to end: litellm against a scripted fake model over loopback, real MCP servers."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from inkeep_runtime.events import (
    AgentTransferred,
    DelegationReturned,
    DelegationStarted,
    RunCompleted,
    RunFailed,
    RunStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import TARGET, agent, executor, graph_doc, kinds, mcp_tool, push, request, run, stored, text_of

pytestmark = pytest.mark.usefixtures("backend")


async def test_answer_streams_in_order_and_is_stored(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("router")]))
    fake_llm.add(Turn.text("Hello there, how can I help today?"))
    async with executor(store) as runner:
        prepared, events = await run(runner, "hi")
    assert kinds(events)[0] == "RunStarted"
    assert kinds(events)[-2:] == ["Usage", "RunCompleted"]
    assert len([e for e in events if isinstance(e, TextDelta)]) > 3
    assert text_of(events) == "Hello there, how can I help today?"
    assert isinstance(events[0], RunStarted)
    assert events[0].model == "openai/fake"
    messages = await stored(store, prepared.conversation_id)
    assert [(m.role, m.content, m.is_partial) for m in messages] == [
        ("user", "hi", False),
        ("assistant", "Hello there, how can I help today?", False),
    ]
    assert "You are router." in fake_llm.requests[0].messages[0]["content"]


async def test_transfer_continues_the_same_turn_and_persists(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    agents = [agent("router", canTransferTo=["billing"]), agent("billing")]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents))
    fake_llm.add(
        Turn.tool_calls([("call_1", "transfer_to_billing", {"reason": "invoice question"})]),
        Turn.text("Billing here: your invoice is paid."),
        Turn.text("Still billing, anything else?"),
    )
    async with executor(store) as runner:
        prepared, events = await run(runner, "where is my invoice?")
        transfer = next(e for e in events if isinstance(e, AgentTransferred))
        assert (transfer.from_agent_id, transfer.to_agent_id, transfer.reason) == (
            "router",
            "billing",
            "invoice question",
        )
        assert text_of(events) == "Billing here: your invoice is paid."
        assert isinstance(events[-1], RunCompleted)
        assert "transfer_to_billing" in fake_llm.requests[0].tool_names
        second_prompt = fake_llm.requests[1].messages
        assert "You are billing." in second_prompt[0]["content"]
        assert any(
            "transfer_context" in str(m.get("content")) and "invoice question" in str(m.get("content"))
            for m in second_prompt
        )
        again, later = await run(runner, "thanks", prepared.conversation_id)
    assert again.agent_id == "billing"
    assert "You are billing." in fake_llm.requests[2].messages[0]["content"]
    assert text_of(later) == "Still billing, anything else?"


async def test_delegation_returns_the_answer_as_a_tool_result(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    agents = [agent("lead", canDelegateTo=["math"]), agent("math")]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents))
    fake_llm.add(
        Turn.tool_calls([("call_d", "delegate_to_math", {"message": "What is six times seven?"})]),
        Turn.text("Forty-two, said math."),
        Turn.text("The answer is 42."),
    )
    async with executor(store) as runner:
        _prepared, events = await run(runner, "six times seven?")
    started = next(e for e in events if isinstance(e, DelegationStarted))
    returned = next(e for e in events if isinstance(e, DelegationReturned))
    assert (started.to_agent_id, started.message) == ("math", "What is six times seven?")
    assert returned.result == "Forty-two, said math."
    assert text_of(events) == "The answer is 42."  # the delegate's text never reaches the user
    assert fake_llm.requests[1].messages[-1] == {"role": "user", "content": "What is six times seven?"}
    tool_result = fake_llm.requests[2].messages[-1]
    assert tool_result["role"] == "tool"
    assert tool_result["content"] == "Forty-two, said math."


async def test_mcp_tool_call_result_reaches_the_model(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [agent("calc", tools=["tools"])]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, tools={"tools": mcp_tool(fake_mcp.url)}))
    fake_llm.add(Turn.tool_calls([("call_a", "add", {"a": 2, "b": 3})]), Turn.text("Two plus three is five."))
    async with executor(store) as runner:
        prepared, events = await run(runner, "add 2 and 3")
    started = next(e for e in events if isinstance(e, ToolCallStarted))
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert (started.tool_name, started.arguments) == ("add", {"a": 2, "b": 3})
    assert (str(finished.output), finished.is_error) == ("5", False)
    assert "add" in fake_llm.requests[0].tool_names
    assert fake_llm.requests[1].messages[-1]["content"] == "5"
    internal = [m for m in await stored(store, prepared.conversation_id) if m.visibility == "internal"]
    assert [m.message_type for m in internal] == ["tool-call", "tool-result"]


async def test_parallel_tool_calls_run_concurrently(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [agent("calc", tools=["tools"])]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, tools={"tools": mcp_tool(fake_mcp.url)}))
    fake_llm.add(
        Turn.tool_calls(
            [("c1", "slow", {"seconds": 0.6}), ("c2", "slow", {"seconds": 0.6}), ("c3", "echo", {"text": "x"})]
        ),
        Turn.text("All done now."),
    )
    async with executor(store) as runner:
        _prepared, events = await run(runner, "go")
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [e.call_id for e in finished] == ["c1", "c2", "c3"]
    assert not any(e.is_error for e in finished)
    # In sequence the log would read start, done, start, done: both calls were running at once.
    assert fake_mcp.events == ["slow:start", "slow:start", "slow:done", "slow:done"]


async def test_failing_tool_goes_back_to_the_model_and_the_turn_continues(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [agent("calc", tools=["tools"])]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, tools={"tools": mcp_tool(fake_mcp.url)}))
    fake_llm.add(
        Turn.tool_calls([("c1", "fail", {"message": "disk on fire"}), ("c2", "no_such_tool", {})]),
        Turn.text("Sorry, the tool failed."),
    )
    async with executor(store) as runner:
        _prepared, events = await run(runner, "go")
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.is_error
    assert "disk on fire" in str(finished.output)
    results = [m for m in fake_llm.requests[1].messages if m["role"] == "tool"]
    assert "disk on fire" in results[0]["content"]
    assert "no tool named 'no_such_tool'" in results[1]["content"]
    assert isinstance(events[-1], RunCompleted)


async def test_tool_timeout_is_a_tool_error(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    tool = mcp_tool(fake_mcp.url)
    tool["config"]["mcp"]["server"]["timeout"] = 300  # milliseconds
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("calc", tools=["tools"])], tools={"tools": tool}))
    fake_llm.add(Turn.tool_calls([("c1", "slow", {"seconds": 5})]), Turn.text("It was too slow."))
    async with executor(store) as runner:
        _prepared, events = await run(runner, "go")
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.is_error
    assert "timed out" in str(finished.output)
    assert isinstance(events[-1], RunCompleted)


async def test_selected_tools_limit_what_the_model_sees(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [agent("calc", tools=["tools"], selectedTools={"tools": ["echo"]})]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, tools={"tools": mcp_tool(fake_mcp.url)}))
    fake_llm.add(Turn.tool_calls([("c1", "add", {"a": 1, "b": 1})]), Turn.text("Could not add."))
    async with executor(store) as runner:
        _prepared, events = await run(runner, "go")
    assert fake_llm.requests[0].tool_names == ["echo"]
    assert not any(isinstance(e, ToolCallStarted) for e in events)  # a hidden tool is refused, never called
    assert "no tool named 'add'" in fake_llm.requests[1].messages[-1]["content"]


async def test_retry_on_429_before_the_first_token(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a")]))
    fake_llm.add(Turn.error(429, "slow down"), Turn.text("Recovered after a retry."))
    async with executor(store) as runner:
        _prepared, events = await run(runner, "hi")
    assert text_of(events) == "Recovered after a retry."
    assert len(fake_llm.requests) == 2


async def test_error_after_first_token_fails_and_keeps_the_partial_answer(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a")]))
    fake_llm.add(Turn.error(500, "boom", after_chunks=2))
    async with executor(store) as runner:
        prepared, events = await run(runner, "hi")
    assert isinstance(events[-1], RunFailed)
    assert events[-1].problem.status >= 500
    assert len(fake_llm.requests) == 1  # no retry once text reached the client
    answer = [m for m in await stored(store, prepared.conversation_id) if m.role == "assistant"]
    assert answer[0].content == text_of(events)
    assert answer[0].is_partial


async def test_cancelled_run_stores_the_partial_answer(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a")]))
    fake_llm.add(Turn.text("one two three four five six seven eight nine ten", chunk_delay_s=0.2))
    async with executor(store) as runner:
        prepared = await runner.prepare(TARGET, request("count"))
        seen: list[str] = []
        with anyio.move_on_after(0.7):
            async for event in runner.stream(prepared):
                if isinstance(event, TextDelta):
                    seen.append(event.text)
        await anyio.sleep(0.1)
    answer = [m for m in await stored(store, prepared.conversation_id) if m.role == "assistant"]
    assert seen
    assert answer[0].content == "".join(seen)
    assert answer[0].is_partial
    await fake_llm.requests[0].finished.wait()
    assert fake_llm.requests[0].disconnected


async def test_usage_is_summed_over_steps(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(
        store,
        tmp_path,
        graph_doc(fake_llm.base_url, [agent("a", tools=["tools"])], tools={"tools": mcp_tool(fake_mcp.url)}),
    )
    fake_llm.add(
        Turn.tool_calls([("c1", "echo", {"text": "x"})], usage=(10, 2)), Turn.text("Echoed it back.", usage=(20, 3))
    )
    async with executor(store) as runner:
        _prepared, events = await run(runner, "echo x")
    usage = next(e for e in events if isinstance(e, Usage))
    assert (usage.input_tokens, usage.output_tokens) == (30, 5)


async def test_graph_without_a_model_uses_the_offline_model(store: Store, tmp_path: Path) -> None:
    document = graph_doc("http://127.0.0.1:9/v1", [agent("a")])
    del document["modelSettings"]
    await push(store, tmp_path, document)
    async with executor(store) as runner:
        _prepared, events = await run(runner, "hello")
    assert isinstance(events[0], RunStarted)
    assert events[0].model.startswith("mock/")
    assert "[offline demo model]" in text_of(events)
    assert isinstance(events[-1], RunCompleted)
