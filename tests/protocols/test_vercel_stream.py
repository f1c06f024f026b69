"""The UI message stream adapter: pure frame tests, then the real `ai` package (v6) parsing our output."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from inkeep_runtime.events import (
    AgentTransferred,
    DataComponent,
    DelegationReturned,
    DelegationStarted,
    Problem,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from inkeep_runtime.protocols.base import DONE, sse_text
from inkeep_runtime.protocols.vercel_stream import UIMessageStreamAdapter

STARTED = RunStarted(run_id="r1", conversation_id="c1", graph_id="g1", agent_id="router")
START = {"type": "start", "messageId": "msg-1", "messageMetadata": {"conversationId": "c1"}}
PROBLEM = Problem(code="llm_timeout", title="Model Timeout", status=504, detail="The model did not answer in 30 s.")


def text(agent: str, value: str) -> TextDelta:
    return TextDelta(agent_id=agent, text=value)


def encode(events: Iterable[RunEvent]) -> list[str]:
    adapter = UIMessageStreamAdapter(message_id="msg-1")
    return [frame for event in events for frame in adapter.encode(event)]


def parsed(frames: list[str]) -> list[Any]:
    return [frame if frame == DONE else json.loads(frame) for frame in frames]


# --- pure frames -------------------------------------------------------------------------------


def test_headers_announce_both_stream_markers() -> None:
    adapter = UIMessageStreamAdapter(message_id="msg-1")
    assert adapter.media_type == "text/event-stream"
    assert adapter.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert adapter.headers["x-vercel-ai-data-stream"] == "v2"


def test_text_run_opens_one_block_and_closes_it_before_finish() -> None:
    events: list[RunEvent] = [
        STARTED,
        StepStarted(agent_id="router", step=1),
        text("router", "Hel"),
        text("router", "lo"),
    ]
    events += [StepFinished(agent_id="router", step=1), RunCompleted()]
    assert parsed(encode(events)) == [
        START,
        {"type": "start-step"},
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Hel"},
        {"type": "text-delta", "id": "text-1", "delta": "lo"},
        {"type": "text-end", "id": "text-1"},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
        DONE,
    ]


def test_frames_are_compact_single_line_json() -> None:
    frames = encode([STARTED, text("router", "a\nb"), RunCompleted()])
    assert all("\n" not in frame and ", " not in frame and '": ' not in frame for frame in frames)


def test_empty_text_delta_opens_no_block() -> None:
    assert parsed(encode([STARTED, text("router", ""), RunCompleted()])) == [
        START,
        {"type": "finish", "finishReason": "stop"},
        DONE,
    ]


def test_open_text_and_step_are_closed_at_the_end() -> None:
    events: list[RunEvent] = [STARTED, StepStarted(agent_id="router", step=1), text("router", "x"), RunCompleted()]
    assert parsed(encode(events))[-4:] == [
        {"type": "text-end", "id": "text-1"},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
        DONE,
    ]


def test_tool_call_closes_the_text_block_and_streams_dynamic_tool_parts() -> None:
    events: list[RunEvent] = [
        STARTED,
        text("router", "Checking."),
        ToolCallStarted(agent_id="router", call_id="call_1", tool_name="lookup", arguments={"q": "x"}),
        ToolCallFinished(agent_id="router", call_id="call_1", tool_name="lookup", output={"n": 1}),
        text("router", "Done."),
    ]
    assert parsed(encode(events))[1:] == [
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Checking."},
        {"type": "text-end", "id": "text-1"},
        {"type": "tool-input-start", "toolCallId": "call_1", "toolName": "lookup", "dynamic": True},
        {
            "type": "tool-input-available",
            "toolCallId": "call_1",
            "toolName": "lookup",
            "input": {"q": "x"},
            "dynamic": True,
        },
        {"type": "tool-output-available", "toolCallId": "call_1", "output": {"n": 1}},
        {"type": "text-start", "id": "text-2"},
        {"type": "text-delta", "id": "text-2", "delta": "Done."},
    ]


def test_failed_tool_call_is_a_tool_output_error() -> None:
    events: list[RunEvent] = [
        ToolCallStarted(agent_id="router", call_id="call_1", tool_name="lookup", arguments={}),
        ToolCallFinished(agent_id="router", call_id="call_1", tool_name="lookup", output="timed out", is_error=True),
    ]
    assert parsed(encode(events))[-1] == {"type": "tool-output-error", "toolCallId": "call_1", "errorText": "timed out"}


def test_structured_tool_error_becomes_json_error_text() -> None:
    event = ToolCallFinished(agent_id="router", call_id="call_1", tool_name="t", output={"code": 1}, is_error=True)
    assert parsed(encode([event]))[-1] == {
        "type": "tool-output-error",
        "toolCallId": "call_1",
        "errorText": '{"code":1}',
    }


def test_tool_output_without_a_seen_start_announces_the_call_first() -> None:
    event = ToolCallFinished(agent_id="router", call_id="call_9", tool_name="lookup", output="ok")
    assert [frame["type"] for frame in parsed(encode([event]))] == [
        "tool-input-start",
        "tool-input-available",
        "tool-output-available",
    ]


def test_transfer_closes_text_and_is_a_data_operation() -> None:
    events: list[RunEvent] = [
        text("router", "Passing on."),
        AgentTransferred(from_agent_id="router", to_agent_id="billing", reason="money"),
    ]
    assert parsed(encode(events))[2:] == [
        {"type": "text-end", "id": "text-1"},
        {
            "type": "data-operation",
            "data": {
                "type": "transfer",
                "label": "Agent transfer: router → billing",
                "details": {
                    "agentId": "router",
                    "data": {"fromAgent": "router", "targetAgent": "billing", "reason": "money"},
                },
            },
        },
    ]


def test_text_from_another_agent_starts_a_new_block() -> None:
    frames = parsed(encode([text("router", "a"), text("billing", "b")]))
    assert frames == [
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "a"},
        {"type": "text-end", "id": "text-1"},
        {"type": "text-start", "id": "text-2"},
        {"type": "text-delta", "id": "text-2", "delta": "b"},
    ]


def test_delegations_are_data_operations() -> None:
    events: list[RunEvent] = [
        DelegationStarted(
            from_agent_id="router", to_agent_id="research", call_id="d1", message="find", is_external=True
        ),
        DelegationReturned(from_agent_id="router", to_agent_id="research", call_id="d1", result="found"),
    ]
    frames = parsed(encode(events))
    assert [(frame["type"], frame["data"]["type"]) for frame in frames] == [
        ("data-operation", "delegation_sent"),
        ("data-operation", "delegation_returned"),
    ]
    assert frames[0]["data"]["details"]["data"]["isExternal"] is True
    assert frames[1]["data"]["details"]["data"]["result"] == "found"


def test_data_component_is_a_data_part_keyed_by_component_id() -> None:
    event = DataComponent(agent_id="router", id="d1", name="WeatherCard", props={"city": "SF"})
    assert parsed(encode([event])) == [
        {"type": "data-component", "id": "d1", "data": {"id": "d1", "name": "WeatherCard", "props": {"city": "SF"}}}
    ]


def test_usage_goes_into_finish_metadata() -> None:
    events: list[RunEvent] = [STARTED, Usage(input_tokens=3, output_tokens=2), RunCompleted(finish_reason="tool_calls")]
    assert parsed(encode(events))[-2] == {
        "type": "finish",
        "finishReason": "tool-calls",
        "messageMetadata": {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}},
    }


def test_run_failed_sends_error_then_finish_with_reason_error() -> None:
    events: list[RunEvent] = [
        STARTED,
        StepStarted(agent_id="router", step=1),
        text("router", "par"),
        RunFailed(problem=PROBLEM),
    ]
    assert parsed(encode(events))[4:] == [
        {"type": "text-end", "id": "text-1"},
        {"type": "finish-step"},
        {"type": "error", "errorText": "The model did not answer in 30 s."},
        {"type": "finish", "finishReason": "error"},
        DONE,
    ]


def test_nothing_is_encoded_after_the_end() -> None:
    adapter = UIMessageStreamAdapter(message_id="msg-1")
    adapter.encode(RunCompleted())
    assert adapter.is_finished
    assert adapter.encode(text("router", "late")) == []
    assert adapter.encode_error(PROBLEM) == []
    assert adapter.finish() == []


def test_finish_closes_a_stream_without_terminal_event_as_stop() -> None:
    adapter = UIMessageStreamAdapter(message_id="msg-1")
    adapter.encode(text("router", "x"))
    assert parsed(adapter.finish()) == [
        {"type": "text-end", "id": "text-1"},
        {"type": "finish", "finishReason": "stop"},
        DONE,
    ]


# --- the real `ai` package ---------------------------------------------------------------------

NODE_DIR = Path(__file__).parents[1] / "node"
needs_ai = pytest.mark.skipif(
    not (NODE_DIR / "node_modules" / "ai").is_dir() or shutil.which("node") is None,
    reason="the `ai` package is not installed: run `npm ci --no-audit --no-fund --prefix tests/node`",
)


def parse_with_ai_sdk(events: Iterable[RunEvent]) -> dict[str, Any]:
    """Pipe our frames through `ai`'s own parser and fold; return its result line."""
    adapter = UIMessageStreamAdapter(message_id="msg-1")
    body = sse_text([frame for event in events for frame in adapter.encode(event)] + adapter.finish())
    done = subprocess.run(
        ["node", str(NODE_DIR / "parse_ui_stream.mjs")],
        input=body,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["ok"], result["error"]
    assert result["done"]
    return result


FULL_RUN: list[RunEvent] = [
    STARTED,
    StepStarted(agent_id="router", step=1),
    text("router", "Let me "),
    text("router", "check."),
    DelegationStarted(from_agent_id="router", to_agent_id="research", call_id="d1", message="find"),
    DelegationReturned(from_agent_id="router", to_agent_id="research", call_id="d1", result="found"),
    StepFinished(agent_id="router", step=1),
    StepStarted(agent_id="router", step=2),
    AgentTransferred(from_agent_id="router", to_agent_id="billing", reason="money"),
    StepFinished(agent_id="router", step=2),
    StepStarted(agent_id="billing", step=1),
    ToolCallStarted(agent_id="billing", call_id="call_1", tool_name="lookup", arguments={"q": "x"}),
    ToolCallStarted(agent_id="billing", call_id="call_2", tool_name="charge", arguments={}),
    StepFinished(agent_id="billing", step=1),
    ToolCallFinished(agent_id="billing", call_id="call_1", tool_name="lookup", output={"n": 1}),
    ToolCallFinished(agent_id="billing", call_id="call_2", tool_name="charge", output="card declined", is_error=True),
    StepStarted(agent_id="billing", step=2),
    text("billing", "Found it. ✓"),
    DataComponent(agent_id="billing", id="d1", name="Card", props={"n": 1}),
    Usage(input_tokens=3, output_tokens=2),
    RunCompleted(),
]


@needs_ai
def test_ai_sdk_assembles_text_tool_and_data_parts() -> None:
    message = parse_with_ai_sdk(FULL_RUN)["message"]
    assert message["id"] == "msg-1"
    assert message["metadata"] == {
        "conversationId": "c1",
        "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
    }
    parts = message["parts"]
    assert [part["type"] for part in parts] == [
        "step-start",
        "text",
        "data-operation",
        "data-operation",
        "step-start",
        "data-operation",
        "step-start",
        "dynamic-tool",
        "dynamic-tool",
        "step-start",
        "text",
        "data-component",
    ]
    assert [part["text"] for part in parts if part["type"] == "text"] == ["Let me check.", "Found it. ✓"]
    assert all(part["state"] == "done" for part in parts if part["type"] == "text")
    assert [part["data"]["type"] for part in parts if part["type"] == "data-operation"] == [
        "delegation_sent",
        "delegation_returned",
        "transfer",
    ]
    lookup, charge = (part for part in parts if part["type"] == "dynamic-tool")
    assert (lookup["toolName"], lookup["state"], lookup["input"], lookup["output"]) == (
        "lookup",
        "output-available",
        {"q": "x"},
        {"n": 1},
    )
    assert (charge["toolName"], charge["state"], charge["errorText"]) == ("charge", "output-error", "card declined")
    assert parts[-1]["data"] == {"id": "d1", "name": "Card", "props": {"n": 1}}


@needs_ai
def test_ai_sdk_accepts_a_failed_run_and_reports_the_error() -> None:
    result = parse_with_ai_sdk(
        [STARTED, StepStarted(agent_id="router", step=1), text("router", "par"), RunFailed(problem=PROBLEM)]
    )
    assert result["errors"] == ["The model did not answer in 30 s."]
    assert result["types"][-2:] == ["error", "finish"]
    assert [part.get("text") for part in result["message"]["parts"]] == [None, "par"]


@needs_ai
def test_ai_sdk_accepts_a_stream_cut_short_and_closed_by_finish() -> None:
    events: list[RunEvent] = [STARTED, StepStarted(agent_id="router", step=1), text("router", "x")]
    result = parse_with_ai_sdk(events)
    assert result["types"] == ["start", "start-step", "text-start", "text-delta", "text-end", "finish-step", "finish"]
