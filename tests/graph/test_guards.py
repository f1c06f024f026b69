"""Every guard ends the run with a clear RunFailed, never a hang."""

from __future__ import annotations

import itertools
from pathlib import Path

import anyio
import pytest

from inkeep_runtime.events import AgentTransferred, RunFailed
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.graph.harness import agent, executor, graph_doc, push, run

pytestmark = pytest.mark.usefixtures("backend")


def _failure(events: list[object]) -> RunFailed:
    last = events[-1]
    assert isinstance(last, RunFailed)
    return last


async def test_transfer_limit_stops_a_ping_pong(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    agents = [agent("a", canTransferTo=["b"]), agent("b", canTransferTo=["a"])]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, stopWhen={"transferCountIs": 3}))
    fake_llm.responder = lambda request: Turn.tool_calls(
        [("call_t", "transfer_to_b" if "transfer_to_b" in request.tool_names else "transfer_to_a", {})]
    )
    async with executor(store) as runner:
        _prepared, events = await run(runner, "loop forever")
    assert len([e for e in events if isinstance(e, AgentTransferred)]) == 3
    failure = _failure(events)
    assert failure.problem.code == "turn_limit_exceeded"
    assert "transferCountIs=3" in failure.problem.detail


async def test_step_limit_stops_an_agent_that_never_answers(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    agents = [agent("a", stopWhen={"stepCountIs": 3})]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents))
    fake_llm.responder = lambda _request: Turn.tool_calls([("call_x", "missing_tool", {})])
    async with executor(store) as runner:
        _prepared, events = await run(runner, "go")
    failure = _failure(events)
    assert failure.problem.code == "turn_limit_exceeded"
    assert "stepCountIs=3" in failure.problem.detail
    assert len(fake_llm.requests) == 3


async def test_delegation_cycle_is_refused(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    agents = [agent("a", canDelegateTo=["b"]), agent("b", canDelegateTo=["a"])]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents))
    fake_llm.add(
        Turn.tool_calls([("d1", "delegate_to_b", {"message": "ask a"})]),
        Turn.tool_calls([("d2", "delegate_to_a", {"message": "ask b"})]),
    )
    async with executor(store) as runner:
        _prepared, events = await run(runner, "go")
    failure = _failure(events)
    assert failure.problem.code == "turn_limit_exceeded"
    assert "a → b → a" in failure.problem.detail


async def test_delegation_depth_is_limited(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    chain = ["a", "b", "c", "d", "e"]
    agents = [agent(x, canDelegateTo=[y]) for x, y in itertools.pairwise(chain)] + [agent("e")]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents))
    fake_llm.responder = lambda request: Turn.tool_calls(
        [("d", next(n for n in request.tool_names if n.startswith("delegate_to_")), {"message": "deeper"})]
    )
    async with executor(store, max_delegation_depth=3) as runner:
        _prepared, events = await run(runner, "go")
    failure = _failure(events)
    assert failure.problem.code == "turn_limit_exceeded"
    assert "depth limit" in failure.problem.detail
    assert len(fake_llm.requests) == 4  # a, b, c, d asked their models; e was never reached


async def test_run_deadline_ends_a_slow_run(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("a")]))
    fake_llm.add(Turn.text("too slow to finish in time at all", chunk_delay_s=0.3))
    async with executor(store, run_deadline_s=0.8) as runner:
        start = anyio.current_time()
        _prepared, events = await run(runner, "go")
        elapsed = anyio.current_time() - start
    failure = _failure(events)
    assert failure.problem.code == "run_deadline_exceeded"
    assert failure.problem.status == 504
    assert elapsed < 2
