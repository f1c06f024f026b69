"""What the model sees of earlier turns: conversationHistoryConfig and client-sent history."""

from __future__ import annotations

from pathlib import Path

import pytest

from inkeep_runtime.errors import NotFound
from inkeep_runtime.graph.contract import RunTarget
from inkeep_runtime.protocols.requests import HistoryMessage
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.graph.harness import TARGET, agent, executor, graph_doc, push, request, run, stored

pytestmark = pytest.mark.usefixtures("backend")


def _contents(messages: list[dict[str, object]]) -> list[object]:
    return [m["content"] for m in messages if m["role"] != "system"]


async def test_full_history_is_sent_on_the_next_turn(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a")]))
    fake_llm.add(Turn.text("First answer here."), Turn.text("Second answer here."))
    async with executor(store) as runner:
        prepared, _ = await run(runner, "first question")
        await run(runner, "second question", prepared.conversation_id)
    assert _contents(fake_llm.requests[1].messages) == ["first question", "First answer here.", "second question"]


async def test_history_mode_none_sends_only_the_new_message(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a", conversationHistoryConfig={"mode": "none"})]))
    fake_llm.add(Turn.text("First answer here."), Turn.text("Second answer here."))
    async with executor(store) as runner:
        prepared, _ = await run(runner, "first question")
        await run(runner, "second question", prepared.conversation_id)
    assert _contents(fake_llm.requests[1].messages) == ["second question"]


async def test_history_limit_keeps_the_newest_messages(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    config = {"mode": "full", "limit": 3}
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a", conversationHistoryConfig=config)]))
    fake_llm.add(Turn.text("Answer number one."), Turn.text("Answer number two."))
    async with executor(store) as runner:
        prepared, _ = await run(runner, "q1")
        await run(runner, "q2", prepared.conversation_id)
    assert _contents(fake_llm.requests[1].messages) == ["q1", "Answer number one.", "q2"][-3:]


async def test_new_conversation_stores_client_history(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a")]))
    fake_llm.add(Turn.text("Paris, as I said."))
    history = (HistoryMessage(role="user", text="capital of France?"), HistoryMessage(role="assistant", text="Paris."))
    async with executor(store) as runner:
        prepared = await runner.prepare(TARGET, request("are you sure?", history=history))
        _ = [event async for event in runner.stream(prepared)]
    assert _contents(fake_llm.requests[0].messages) == ["capital of France?", "Paris.", "are you sure?"]
    assert [m.content for m in await stored(store, prepared.conversation_id)] == [
        "capital of France?",
        "Paris.",
        "are you sure?",
        "Paris, as I said.",
    ]


async def test_conversation_of_another_graph_is_404(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a")]))
    other = graph_doc(fake_llm.base_url, [agent("b")])
    other["id"] = "g2"
    await push(store, tmp_path, other)
    fake_llm.add(Turn.text("Hello from graph one."))
    async with executor(store) as runner:
        prepared, _ = await run(runner, "hi")
        with pytest.raises(NotFound):
            await runner.prepare(
                RunTarget(tenant_id="t1", project_id="p1", graph_id="g2"), request("hi", prepared.conversation_id)
            )


async def test_unknown_graph_is_404(store: Store, tmp_path: Path) -> None:
    async with executor(store) as runner:
        with pytest.raises(NotFound):
            await runner.prepare(TARGET, request("hi"))
