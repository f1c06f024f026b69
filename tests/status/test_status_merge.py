"""Status updates, in process: triggers, validation, failures and the merge that keeps them off the token path."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from inkeep_runtime.agent.status import StatusSummarizer, with_status_updates
from inkeep_runtime.agent.status_config import StatusComponent, StatusUpdatesConfig, status_config, summarizer_model
from inkeep_runtime.errors import LLMError
from inkeep_runtime.events import RunEvent, StatusSummary, TextDelta, ToolCallFinished, ToolCallStarted
from inkeep_runtime.llm.client import LLMChunk, LLMRequest, TextChunk

Answer = Callable[[LLMRequest], str]


class StubLLM:
    """An in-process summarizer model: answers with `answer(request)`, after `gate` when one is set."""

    def __init__(self, answer: Answer | str, gate: anyio.Event | None = None) -> None:
        self.answer = answer
        self.gate = gate
        self.requests: list[LLMRequest] = []
        self.called = anyio.Event()

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        self.requests.append(request)
        self.called.set()
        if self.gate is not None:
            await self.gate.wait()
        text = self.answer if isinstance(self.answer, str) else self.answer(request)
        yield TextChunk(text=text)


def summaries(*items: dict[str, Any]) -> str:
    return json.dumps({"summaries": list(items)})


def summarizer(llm: StubLLM, **config: Any) -> StatusSummarizer:
    return StatusSummarizer(
        llm=llm, model="stub", options={}, config=StatusUpdatesConfig(**config), question="Where is my order?"
    )


def started(call_id: str, tool: str = "lookup") -> ToolCallStarted:
    return ToolCallStarted(agent_id="a", call_id=call_id, tool_name=tool, arguments={"order": 7})


def finished(call_id: str, output: str, tool: str = "lookup") -> ToolCallFinished:
    return ToolCallFinished(agent_id="a", call_id=call_id, tool_name=tool, output=output)


async def collect(events: AsyncIterator[RunEvent]) -> list[RunEvent]:
    with anyio.fail_after(5):
        return [event async for event in events]


def activity_of(request: LLMRequest) -> str:
    return str(request.messages[-1].content)


async def test_summary_arrives_while_the_run_waits() -> None:
    llm = StubLLM(summaries({"type": "retrieve", "label": "Looking up order 7", "details": {}}))
    seen = anyio.Event()

    async def run() -> AsyncGenerator[RunEvent, None]:
        yield started("c1")
        await seen.wait()  # a slow tool: only a summary delivered meanwhile lets it finish
        yield finished("c1", "shipped")
        yield TextDelta(agent_id="a", text="It shipped.")

    found: list[RunEvent] = []
    with anyio.fail_after(5):
        async for event in with_status_updates(run(), summarizer(llm)):
            found.append(event)
            if isinstance(event, StatusSummary):
                seen.set()
    assert found[:2] == [started("c1"), StatusSummary(type="retrieve", label="Looking up order 7", details={})]
    assert found[-1] == TextDelta(agent_id="a", text="It shipped.")
    assert 'Started lookup with {"order": 7}' in activity_of(llm.requests[0])
    assert "User's request: Where is my order?" in activity_of(llm.requests[0])


async def test_slow_summary_never_holds_back_answer_tokens_and_is_dropped_after_the_end() -> None:
    gate = anyio.Event()  # the summarizer answers only after the run is over
    llm = StubLLM(summaries({"type": "action", "label": "Too late to matter", "details": {}}), gate=gate)
    words = [TextDelta(agent_id="a", text=f"w{i} ") for i in range(50)]

    async def run() -> AsyncGenerator[RunEvent, None]:
        yield started("c1")
        await llm.called.wait()  # the summary is in flight from here on
        yield finished("c1", "ok")
        for word in words:
            yield word

    found = await collect(with_status_updates(run(), summarizer(llm)))
    gate.set()
    assert found == [started("c1"), finished("c1", "ok"), *words]
    assert len(llm.requests) == 1


async def test_num_events_waits_for_enough_events() -> None:
    llm = StubLLM(summaries())

    async def run() -> AsyncGenerator[RunEvent, None]:
        yield started("c1")
        yield finished("c1", "first result")
        with anyio.fail_after(5):
            await llm.called.wait()
        yield TextDelta(agent_id="a", text="done")

    await collect(with_status_updates(run(), summarizer(llm, num_events=2, time_in_seconds=600)))
    (request,) = llm.requests
    assert "Started lookup" in activity_of(request)
    assert "lookup returned: first result" in activity_of(request)  # both events went into the one summary


async def test_time_in_seconds_summarizes_fewer_events_after_the_interval() -> None:
    llm = StubLLM(summaries({"type": "action", "label": "Checking the order", "details": {}}))
    stop = anyio.Event()

    async def run() -> AsyncGenerator[RunEvent, None]:
        yield started("c1")
        await stop.wait()

    found: list[RunEvent] = []
    with anyio.fail_after(5):
        async for event in with_status_updates(run(), summarizer(llm, num_events=10, time_in_seconds=0.2)):
            found.append(event)
            if isinstance(event, StatusSummary):
                stop.set()
    assert found == [started("c1"), StatusSummary(type="action", label="Checking the order", details={})]


async def test_summarizer_failure_is_logged_and_the_run_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    class FailingLLM(StubLLM):
        async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
            self.requests.append(request)
            self.called.set()
            msg = "The summarizer model is down."
            raise LLMError(msg)
            yield TextChunk(text="")  # pragma: no cover

    llm = FailingLLM("")
    caplog.set_level(logging.WARNING, logger="inkeep_runtime")

    async def run() -> AsyncGenerator[RunEvent, None]:
        yield started("c1")
        with anyio.fail_after(5):
            await llm.called.wait()
        await anyio.sleep(0.05)  # let the failure be logged before the run ends
        yield finished("c1", "ok")

    found = await collect(with_status_updates(run(), summarizer(llm)))
    assert found == [started("c1"), finished("c1", "ok")]
    assert "status update skipped: the summarizer stub failed (The summarizer model is down.)" in caplog.text


async def test_run_errors_reach_the_caller_after_both_tasks_ended() -> None:
    llm = StubLLM(summaries())

    async def run() -> AsyncGenerator[RunEvent, None]:
        yield started("c1")
        msg = "The agent's model failed."
        raise LLMError(msg)

    merged = with_status_updates(run(), summarizer(llm))
    assert await merged.__anext__() == started("c1")
    with pytest.raises(LLMError, match="agent's model failed"):
        await merged.__anext__()


async def test_closing_the_stream_closes_the_run() -> None:
    closed = anyio.Event()

    async def run() -> AsyncGenerator[RunEvent, None]:
        try:
            yield started("c1")
            await anyio.sleep_forever()
        finally:
            closed.set()

    merged = with_status_updates(run(), summarizer(StubLLM(summaries(), gate=anyio.Event())))
    with anyio.fail_after(5):
        assert await merged.__anext__() == started("c1")
        await merged.aclose()  # a client disconnect
    assert closed.is_set()


DETAILS = {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}


async def test_details_are_validated_against_the_component_schema(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="inkeep_runtime")
    llm = StubLLM(
        summaries(
            {"type": "orders", "label": "Found three orders", "details": {"count": "three"}},
            {"type": "orders", "label": "Found 3 orders", "details": {"count": 3}},
            {"type": "unknown", "label": "Made up", "details": {}},
        )
    )
    config = {"components": (StatusComponent(type="orders", description="Orders found", details_schema=DETAILS),)}
    found = await summarizer(llm, **config).summarize(["lookup returned: 3 orders"])
    assert found == [StatusSummary(type="orders", label="Found 3 orders", details={"count": 3})]
    assert "orders details fail the schema at count: 'three' is not of type 'integer'" in caplog.text
    assert "type 'unknown' is not a status component" in caplog.text
    system = str(llm.requests[0].messages[0].content)
    assert "- orders: Orders found details must match this JSON Schema" in system


async def test_repeated_labels_are_not_sent_twice() -> None:
    llm = StubLLM(summaries({"type": "action", "label": "Checking the order", "details": {}}))
    summarizing = summarizer(llm)
    assert len(await summarizing.summarize(["a"])) == 1
    assert await summarizing.summarize(["a", "b"]) == []
    assert "- Checking the order" in activity_of(llm.requests[1])


async def test_unusable_answer_gives_no_summary() -> None:
    assert await summarizer(StubLLM("I am not JSON")).summarize(["a"]) == []


def test_config_defaults_and_component_shapes() -> None:
    assert status_config(None) is None
    assert status_config({"enabled": False, "numEvents": 3}) is None
    config = status_config(
        {
            "numEvents": 3,
            "model": "openai/small",
            "statusComponents": [
                {"type": "progress", "detailsSchema": DETAILS},
                {"id": "orders", "name": "Orders", "description": "d", "schema": DETAILS},
            ],
        }
    )
    assert config is not None
    assert (config.num_events, config.time_in_seconds, config.model) == (3, 2.0, "openai/small")
    assert [(c.type, c.details_schema) for c in config.components] == [("progress", DETAILS), ("orders", DETAILS)]
    defaults = status_config({})
    assert defaults is None  # an empty object enables nothing
    assert [c.type for c in StatusUpdatesConfig().components] == ["retrieve", "action"]


def test_summarizer_model_prefers_the_status_model_then_the_graph_summarizer() -> None:
    graph = {"model": "openai/big", "providerOptions": {"api_base": "x"}}
    assert summarizer_model(graph, StatusUpdatesConfig(model="openai/small"), None) == (
        "openai/small",
        {"api_base": "x"},
    )
    with_summarizer = {**graph, "summarizer": {"model": "openai/tiny", "providerOptions": {"temperature": 0}}}
    assert summarizer_model(with_summarizer, StatusUpdatesConfig(), None) == (
        "openai/tiny",
        {"api_base": "x", "temperature": 0},
    )
    assert summarizer_model(graph, StatusUpdatesConfig(), None)[0] == "openai/big"
    assert summarizer_model({}, StatusUpdatesConfig(), "openai/default")[0] == "openai/default"
