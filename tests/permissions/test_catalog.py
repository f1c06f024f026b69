"""What the model sees and may call: disabled tools hidden and refused by name, added context in descriptions."""

from __future__ import annotations

from pathlib import Path

from inkeep_runtime.events import RunCompleted, ToolCallFinished, ToolCallStarted
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import executor, run
from tests.permissions.helpers import add_context, ops_graph, permit, set_default


def _tool_calls(fake_mcp: FakeMcpServer) -> list[str]:
    return [m for r in fake_mcp.recorder.requests for m in r.rpc_methods if m == "tools/call"]


async def test_disabled_tool_is_hidden_from_the_model(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    await permit(store, "add", "disabled")
    fake_llm.add(Turn.text("I will not add anything today."))
    async with executor(store) as runner:
        _prepared, events = await run(runner, "add 1 and 2")
    assert isinstance(events[-1], RunCompleted)
    names = fake_llm.requests[0].tool_names
    assert "add" not in names
    assert {"echo", "slow"} <= set(names)


async def test_a_disabled_tool_called_by_name_is_refused_as_permission_denied(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    await permit(store, "add", "disabled")
    fake_llm.add(Turn.tool_calls([("call_x", "add", {"a": 4, "b": 5})]), Turn.text("The add tool is off limits."))
    async with executor(store) as runner:
        _prepared, events = await run(runner, "add 4 and 5 anyway")
    started = next(e for e in events if isinstance(e, ToolCallStarted))
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert (started.tool_id, started.server_tool_name) == ("tools", "add")
    assert finished.is_error
    assert finished.error_type == "permission_denied"
    tool_message = fake_llm.requests[1].messages[-1]
    assert tool_message["role"] == "tool"
    assert "permission_denied" in tool_message["content"]
    assert _tool_calls(fake_mcp) == []  # the server never saw the call


async def test_project_default_disabled_hides_everything_but_explicit_grants(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    await set_default(store, "disabled")
    await permit(store, "echo", "always_execute")
    fake_llm.add(Turn.tool_calls([("call_e", "echo", {"text": "kept"})]), Turn.text("Echo said kept."))
    async with executor(store) as runner:
        _prepared, events = await run(runner, "echo kept")
    assert fake_llm.requests[0].tool_names == ["echo"]
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert (finished.output, finished.is_error) == ("kept", False)


async def test_added_context_is_appended_to_the_description_the_model_sees(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    await add_context(store, "echo", "Use echo only for quoting the user verbatim.")
    fake_llm.add(Turn.text("Nothing to quote here."))
    async with executor(store) as runner:
        await run(runner, "hello")
    described = {t["function"]["name"]: t["function"]["description"] for t in fake_llm.requests[0].tools}
    assert described["echo"] == "Return the text unchanged.\n\nUse echo only for quoting the user verbatim."
    assert described["add"] == "Add two integers."


async def test_require_approval_without_a_broker_fails_closed(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    await permit(store, "echo", "require_approval")
    fake_llm.add(Turn.tool_calls([("call_q", "echo", {"text": "secret"})]), Turn.text("It needs approval first."))
    async with executor(store) as runner:  # the test harness's executor has no approval broker
        _prepared, events = await run(runner, "echo secret")
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.error_type == "approval_rejected"
    assert _tool_calls(fake_mcp) == []
