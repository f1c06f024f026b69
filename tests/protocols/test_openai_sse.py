"""The OpenAI chunk adapter: pure frame tests, then the official SDK (strict validation) reading our output."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

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
from inkeep_runtime.protocols.openai_sse import OpenAIStreamAdapter, collect_completion

STARTED = RunStarted(run_id="r1", conversation_id="c1", graph_id="g1", agent_id="router")
PROBLEM = Problem(code="llm_timeout", title="Model Timeout", status=504, detail="The model did not answer in 30 s.")
ENVELOPE = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "graph-model",
    "system_fingerprint": None,
}


def encode(events: Iterable[RunEvent], **options: Any) -> list[str]:
    adapter = OpenAIStreamAdapter(model="graph-model", completion_id="chatcmpl-1", created=1700000000, **options)
    return [frame for event in events for frame in adapter.encode(event)]


def parsed(frames: list[str]) -> list[Any]:
    return [frame if frame == DONE else json.loads(frame) for frame in frames]


def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
    return {**ENVELOPE, "choices": [choice], **extra}


def content_json(frame: dict[str, Any]) -> Any:
    return json.loads(frame["choices"][0]["delta"]["content"])


# --- pure frames -------------------------------------------------------------------------------


def test_text_run_streams_role_once_then_content_then_one_finish_and_done() -> None:
    frames = encode(
        [STARTED, TextDelta(agent_id="router", text="Hel"), TextDelta(agent_id="router", text="lo"), RunCompleted()]
    )
    assert parsed(frames) == [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        DONE,
    ]


def test_frames_are_compact_single_line_json() -> None:
    frames = encode([STARTED, TextDelta(agent_id="router", text="a\nb"), RunCompleted()])
    assert all("\n" not in frame and ", " not in frame and '": ' not in frame for frame in frames)


def test_run_started_model_names_the_chunks() -> None:
    started = RunStarted(run_id="r1", conversation_id="c1", graph_id="g1", agent_id="router", model="gpt-4o-mini")
    frames = parsed(encode([started, TextDelta(agent_id="router", text="x"), RunCompleted()]))
    assert {frame["model"] for frame in frames if frame != DONE} == {"gpt-4o-mini"}


def test_text_before_run_started_still_gets_the_role_chunk_first() -> None:
    frames = parsed(encode([TextDelta(agent_id="router", text="x"), STARTED, RunCompleted()]))
    assert frames == [chunk({"role": "assistant", "content": ""}), chunk({"content": "x"}), chunk({}, "stop"), DONE]


def test_empty_text_delta_sends_nothing() -> None:
    assert encode([STARTED, TextDelta(agent_id="router", text="")]) == encode([STARTED])


def test_include_usage_adds_null_usage_and_the_usage_chunk_before_done() -> None:
    events: list[RunEvent] = [
        STARTED,
        TextDelta(agent_id="router", text="hi"),
        Usage(input_tokens=7, output_tokens=2),
        RunCompleted(),
    ]
    assert parsed(encode(events, include_usage=True)) == [
        chunk({"role": "assistant", "content": ""}, usage=None),
        chunk({"content": "hi"}, usage=None),
        chunk({}, "stop", usage=None),
        {**ENVELOPE, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}},
        DONE,
    ]


def test_usage_without_include_usage_is_not_sent() -> None:
    events: list[RunEvent] = [STARTED, Usage(input_tokens=7, output_tokens=2), RunCompleted()]
    assert parsed(encode(events)) == [chunk({"role": "assistant", "content": ""}), chunk({}, "stop"), DONE]


def test_finish_reason_comes_from_run_completed() -> None:
    frames = parsed(encode([STARTED, RunCompleted(finish_reason="length")]))
    assert frames[-2] == chunk({}, "length")


def test_agent_events_are_hidden_without_emit_operations() -> None:
    events: list[RunEvent] = [
        STARTED,
        StepStarted(agent_id="router", step=1),
        AgentTransferred(from_agent_id="router", to_agent_id="billing", reason="money"),
        ToolCallStarted(agent_id="billing", call_id="call_1", tool_name="lookup", arguments={"q": "x"}),
        ToolCallFinished(agent_id="billing", call_id="call_1", tool_name="lookup", output="found"),
        DataComponent(agent_id="billing", id="d1", name="Card", props={"a": 1}),
        StepFinished(agent_id="router", step=1),
        RunCompleted(),
    ]
    assert parsed(encode(events)) == [chunk({"role": "assistant", "content": ""}), chunk({}, "stop"), DONE]


def test_emit_operations_brackets_the_run_with_initializing_and_completion() -> None:
    frames = parsed(encode([STARTED, RunCompleted()], emit_operations=True))
    assert frames[0] == chunk({"role": "assistant", "content": ""})
    assert content_json(frames[1]) == {
        "type": "data-operation",
        "data": {"type": "agent_initializing", "details": {"sessionId": "chatcmpl-1", "graphId": "g1"}},
    }
    assert content_json(frames[2]) == {
        "type": "data-operation",
        "data": {"type": "completion", "details": {"agent": "router"}},
    }
    assert frames[3:] == [chunk({}, "stop"), DONE]


def test_emit_operations_sends_a_transfer_as_data_operation_content() -> None:
    event = AgentTransferred(from_agent_id="router", to_agent_id="billing", reason="money")
    adapter = OpenAIStreamAdapter(model="m", completion_id="chatcmpl-1", created=1, emit_operations=True)
    adapter.encode(STARTED)
    [frame] = adapter.encode(event)
    assert content_json(json.loads(frame)) == {
        "type": "data-operation",
        "data": {
            "type": "transfer",
            "label": "Agent transfer: router → billing",
            "details": {
                "agentId": "router",
                "data": {"fromAgent": "router", "targetAgent": "billing", "reason": "money"},
            },
        },
    }


def test_emit_operations_sends_delegations_and_tool_calls_by_name() -> None:
    events: list[RunEvent] = [
        STARTED,
        DelegationStarted(from_agent_id="router", to_agent_id="research", call_id="d1", message="find it"),
        DelegationReturned(from_agent_id="router", to_agent_id="research", call_id="d1", result="found"),
        ToolCallStarted(agent_id="router", call_id="call_1", tool_name="lookup", arguments={"q": "x"}),
        ToolCallFinished(agent_id="router", call_id="call_1", tool_name="lookup", output="boom", is_error=True),
    ]
    frames = parsed(encode(events, emit_operations=True))[2:]
    assert [content_json(frame)["data"] for frame in frames] == [
        {
            "type": "delegation_sent",
            "label": "Delegation: router → research",
            "details": {
                "agentId": "router",
                "data": {
                    "fromAgent": "router",
                    "targetAgent": "research",
                    "delegationId": "d1",
                    "message": "find it",
                    "isExternal": False,
                },
            },
        },
        {
            "type": "delegation_returned",
            "label": "Delegation returned: research → router",
            "details": {
                "agentId": "router",
                "data": {
                    "fromAgent": "router",
                    "targetAgent": "research",
                    "delegationId": "d1",
                    "result": "found",
                    "isError": False,
                },
            },
        },
        {
            "type": "tool_call",
            "label": "Tool call: lookup",
            "details": {
                "agentId": "router",
                "data": {"toolName": "lookup", "toolCallId": "call_1", "args": {"q": "x"}},
            },
        },
        {
            "type": "tool_result",
            "label": "Tool failed: lookup",
            "details": {
                "agentId": "router",
                "data": {"toolName": "lookup", "toolCallId": "call_1", "result": "boom", "isError": True},
            },
        },
    ]


def test_emit_operations_sends_a_data_component_as_content() -> None:
    event = DataComponent(agent_id="router", id="d1", name="WeatherCard", props={"city": "SF"})
    frames = parsed(encode([STARTED, event], emit_operations=True))
    assert content_json(frames[-1]) == {
        "type": "data-component",
        "data": {"id": "d1", "name": "WeatherCard", "props": {"city": "SF"}},
    }


def test_run_failed_sends_an_error_event_then_done() -> None:
    frames = parsed(encode([STARTED, TextDelta(agent_id="router", text="par"), RunFailed(problem=PROBLEM)]))
    assert frames[2:] == [
        {
            "error": {
                "message": "The model did not answer in 30 s.",
                "type": "server_error",
                "param": None,
                "code": "llm_timeout",
            }
        },
        DONE,
    ]


def test_client_errors_are_typed_invalid_request() -> None:
    problem = Problem(code="turn_limit_exceeded", title="Turn Limit Exceeded", status=422, detail="Too many transfers.")
    frames = parsed(encode([STARTED, RunFailed(problem=problem)]))
    assert frames[-2]["error"]["type"] == "invalid_request_error"


def test_run_failed_with_emit_operations_sends_the_error_operation_first() -> None:
    events: list[RunEvent] = [
        STARTED,
        AgentTransferred(from_agent_id="router", to_agent_id="billing"),
        RunFailed(problem=PROBLEM),
    ]
    frames = parsed(encode(events, emit_operations=True))
    assert content_json(frames[-3]) == {
        "type": "data-operation",
        "data": {
            "type": "error",
            "message": PROBLEM.detail,
            "code": "llm_timeout",
            "severity": "error",
            "agent": "billing",
        },
    }
    assert "error" in frames[-2]
    assert frames[-1] == DONE


def test_nothing_is_encoded_after_the_end() -> None:
    adapter = OpenAIStreamAdapter(model="m", completion_id="chatcmpl-1", created=1)
    adapter.encode(STARTED)
    adapter.encode(RunCompleted())
    assert adapter.is_finished
    assert adapter.encode(TextDelta(agent_id="router", text="late")) == []
    assert adapter.encode(RunCompleted()) == []
    assert adapter.encode_error(PROBLEM) == []
    assert adapter.finish() == []


def test_finish_closes_a_stream_without_terminal_event_as_stop() -> None:
    adapter = OpenAIStreamAdapter(model="graph-model", completion_id="chatcmpl-1", created=1700000000)
    adapter.encode(STARTED)
    assert parsed(adapter.finish()) == [chunk({}, "stop"), DONE]


def test_encode_error_before_anything_sends_only_the_error_and_done() -> None:
    adapter = OpenAIStreamAdapter(model="m", completion_id="chatcmpl-1", created=1)
    assert parsed(adapter.encode_error(PROBLEM))[1:] == [DONE]


def test_collect_completion_folds_text_and_usage() -> None:
    events: list[RunEvent] = [
        STARTED,
        TextDelta(agent_id="a", text="Hel"),
        TextDelta(agent_id="b", text="lo"),
        Usage(input_tokens=3, output_tokens=1),
        RunCompleted(),
    ]
    assert collect_completion(events, model="m", completion_id="chatcmpl-1", created=5) == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 5,
        "model": "m",
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def test_collect_completion_returns_the_problem_of_a_failed_run() -> None:
    events: list[RunEvent] = [STARTED, TextDelta(agent_id="a", text="x"), RunFailed(problem=PROBLEM)]
    assert collect_completion(events, model="m", completion_id="chatcmpl-1", created=5) == PROBLEM


# --- the official SDK, strict ------------------------------------------------------------------

TOOL_RUN: list[RunEvent] = [
    STARTED,
    StepStarted(agent_id="router", step=1),
    TextDelta(agent_id="router", text="Let me check. "),
    AgentTransferred(from_agent_id="router", to_agent_id="billing"),
    ToolCallStarted(agent_id="billing", call_id="call_1", tool_name="lookup", arguments={"q": "x"}),
    ToolCallFinished(agent_id="billing", call_id="call_1", tool_name="lookup", output={"n": 1}),
    TextDelta(agent_id="billing", text="Found "),
    TextDelta(agent_id="billing", text="it. ✓"),
    Usage(input_tokens=11, output_tokens=4),
    StepFinished(agent_id="billing", step=2),
    RunCompleted(),
]


def sdk_for(events: list[RunEvent], *, emit_operations: bool = False) -> openai.AsyncOpenAI:
    """A strict SDK client whose server streams (or folds) `events` through our adapters."""

    async def completions(request: Request) -> Response:
        body = await request.json()
        options = {"model": body["model"], "completion_id": "chatcmpl-1", "created": 1700000000}
        if not body.get("stream"):
            result = collect_completion(events, **options)
            return JSONResponse(result if isinstance(result, dict) else {"error": {"message": result.detail}}, 200)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        adapter = OpenAIStreamAdapter(**options, include_usage=include_usage, emit_operations=emit_operations)

        async def frames() -> AsyncIterator[str]:
            yield sse_text(frame for event in events for frame in adapter.encode(event))

        return StreamingResponse(frames(), media_type=adapter.media_type, headers=adapter.headers)

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    return openai.AsyncOpenAI(
        http_client=http, base_url="http://testserver/v1", api_key="x", max_retries=0, _strict_response_validation=True
    )


MESSAGES: Any = [{"role": "user", "content": "hi"}]


async def test_sdk_parses_the_raw_stream_strictly() -> None:
    client = sdk_for(TOOL_RUN)
    stream = await client.chat.completions.create(
        model="graph-model", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [item async for item in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me check. Found it. ✓"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens, chunks[-1].usage.total_tokens) == (
        11,
        4,
        15,
    )
    await client.close()


async def test_sdk_stream_helper_rebuilds_the_message() -> None:
    client = sdk_for(TOOL_RUN)
    async with client.chat.completions.stream(
        model="graph-model", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        completion = await stream.get_final_completion()
    assert completion.id == "chatcmpl-1"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Let me check. Found it. ✓"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 15
    await client.close()


async def test_sdk_stream_helper_accepts_operations_in_content() -> None:
    client = sdk_for(TOOL_RUN, emit_operations=True)
    async with client.chat.completions.stream(model="graph-model", messages=MESSAGES) as stream:
        completion = await stream.get_final_completion()
    content = completion.choices[0].message.content or ""
    assert '{"type":"data-operation","data":{"type":"transfer"' in content
    assert content.endswith('"details":{"agent":"billing"}}}')
    await client.close()


async def test_sdk_parses_the_non_streaming_completion_strictly() -> None:
    client = sdk_for(TOOL_RUN)
    completion = await client.chat.completions.create(model="graph-model", messages=MESSAGES)
    assert completion.choices[0].message.content == "Let me check. Found it. ✓"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 11
    await client.close()


async def test_sdk_raises_api_error_on_the_error_event() -> None:
    client = sdk_for([STARTED, TextDelta(agent_id="router", text="par"), RunFailed(problem=PROBLEM)])
    stream = await client.chat.completions.create(model="graph-model", messages=MESSAGES, stream=True)
    received: list[str] = []

    async def read_all() -> None:
        async for item in stream:
            received.append(item.choices[0].delta.content or "")

    with pytest.raises(openai.APIError, match="did not answer in 30 s"):
        await read_all()
    assert received == ["", "par"]
    await client.close()
