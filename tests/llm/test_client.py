"""LiteLLMClient against the fake model over real loopback HTTP: streaming, tool calls, retries, errors, closing."""

from __future__ import annotations

import socket
import time
from contextlib import aclosing
from typing import Any

import anyio
import litellm  # imported at collection: it takes seconds, which no test's timeout should pay
import pytest

from inkeep_runtime.errors import LLMError, LLMRateLimited, LLMTimeout
from inkeep_runtime.llm.client import (
    FinishChunk,
    LiteLLMClient,
    LLMChunk,
    LLMClient,
    LLMRequest,
    TextChunk,
    ToolCallChunk,
    UsageChunk,
)
from inkeep_runtime.llm.messages import (
    AssistantMessage,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from tests.fakes import fake_llm as fakes
from tests.fakes.fake_llm import FakeLLM, Turn

fake_llm = fakes.fake_llm  # registers the fixture here until tests/conftest.py does it for every test

# litellm 1.106 reads `model_fields`/`model_computed_fields` on instances (pydantic 2.11 deprecation) while streaming.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Accessing the 'model_:pydantic.warnings.PydanticDeprecatedSince211:litellm"
)

API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture
async def client() -> LiteLLMClient:
    """A warmed client with fast retries."""
    llm = LiteLLMClient(timeout_s=5, retry_base_s=0.01)
    await llm.warm()
    return llm


def request_for(fake: FakeLLM, *, tools: tuple[ToolSpec, ...] = (), **options: Any) -> LLMRequest:
    return LLMRequest(
        model="openai/fake",
        messages=[UserMessage(content="hi")],
        tools=tools,
        options={"api_base": fake.base_url, "api_key": API_KEY, **options},
    )


async def collect(client: LiteLLMClient, request: LLMRequest) -> list[LLMChunk]:
    async with aclosing(client.stream(request)) as stream:
        return [chunk async for chunk in stream]


async def test_streamed_text_arrives_as_several_chunks_in_order(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text("Hello there, my friend", usage=(9, 4)))

    chunks = await collect(client, request_for(fake_llm))

    assert chunks == [
        TextChunk(text="Hello"),
        TextChunk(text=" there,"),
        TextChunk(text=" my"),
        TextChunk(text=" friend"),
        FinishChunk(finish_reason="stop"),
        UsageChunk(input_tokens=9, output_tokens=4),
    ]


async def test_text_is_yielded_before_the_model_has_finished(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text(["first", " second", " third"], chunk_delay_s=0.2))

    async with aclosing(client.stream(request_for(fake_llm))) as stream:
        first = await anext(stream)
        is_model_still_answering = not fake_llm.requests[0].finished.is_set()
        rest = [chunk async for chunk in stream]

    assert first == TextChunk(text="first")
    assert is_model_still_answering
    assert rest[:2] == [TextChunk(text=" second"), TextChunk(text=" third")]


async def test_a_single_tool_call_is_rebuilt_from_its_fragments(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.tool_calls([("call_1", "get_weather", {"city": "San Francisco", "days": 3})], usage=(5, 2)))

    chunks = await collect(client, request_for(fake_llm, tools=(ToolSpec(name="get_weather"),)))

    assert chunks == [
        ToolCallChunk(
            id="call_1",
            name="get_weather",
            arguments={"city": "San Francisco", "days": 3},
            raw_arguments='{"city": "San Francisco", "days": 3}',
        ),
        FinishChunk(finish_reason="tool_calls"),
        UsageChunk(input_tokens=5, output_tokens=2),
    ]


async def test_parallel_tool_calls_keep_their_ids_names_and_order(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.tool_calls([("call_a", "add", {"a": 1, "b": 2}), ("call_b", "multiply", {"a": 3, "b": 4})]))

    chunks = await collect(client, request_for(fake_llm, tools=(ToolSpec(name="add"), ToolSpec(name="multiply"))))

    calls = [chunk for chunk in chunks if isinstance(chunk, ToolCallChunk)]
    assert [(c.id, c.name, c.arguments, c.arguments_error) for c in calls] == [
        ("call_a", "add", {"a": 1, "b": 2}, None),
        ("call_b", "multiply", {"a": 3, "b": 4}, None),
    ]
    assert calls[0].call == ToolCall(id="call_a", name="add", arguments={"a": 1, "b": 2})


async def test_text_before_tool_calls_streams_first(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.tool_calls([("call_1", "lookup", {})], text=["Let me", " check."]))

    chunks = await collect(client, request_for(fake_llm, tools=(ToolSpec(name="lookup"),)))

    assert [type(chunk).__name__ for chunk in chunks] == [
        "TextChunk", "TextChunk", "ToolCallChunk", "FinishChunk", "UsageChunk",
    ]  # fmt: skip


async def test_malformed_tool_arguments_become_an_arguments_error(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.tool_calls([("call_1", "add", '{"a": 1, "b":'), ("call_2", "add", "[1, 2]")]))

    chunks = await collect(client, request_for(fake_llm, tools=(ToolSpec(name="add"),)))

    broken, listed = [chunk for chunk in chunks if isinstance(chunk, ToolCallChunk)]
    assert (broken.arguments, broken.raw_arguments) == ({}, '{"a": 1, "b":')
    assert broken.arguments_error is not None
    assert "not valid JSON" in broken.arguments_error
    assert listed.arguments == {}
    assert listed.arguments_error == "The arguments of tool 'add' are a JSON list; expected an object."


async def test_a_tool_call_cut_off_by_the_token_limit_reports_length(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn(calls=(("call_1", "write", '{"text": "a very long'),), finish_reason="length"))

    chunks = await collect(client, request_for(fake_llm, tools=(ToolSpec(name="write"),)))

    call, finish = chunks[0], chunks[1]
    assert isinstance(call, ToolCallChunk)
    assert call.arguments_error is not None
    assert finish == FinishChunk(finish_reason="length")


async def test_empty_tool_arguments_mean_no_arguments(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.tool_calls([("call_1", "now", "")]))

    chunks = await collect(client, request_for(fake_llm, tools=(ToolSpec(name="now"),)))

    assert chunks[0] == ToolCallChunk(id="call_1", name="now", arguments={}, raw_arguments="")


async def test_rate_limit_before_first_token_is_retried(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.error(429, "Slow down."), Turn.text("Recovered"))

    chunks = await collect(client, request_for(fake_llm))

    assert chunks[0] == TextChunk(text="Recovered")
    assert len(fake_llm.requests) == 2


async def test_retry_after_header_sets_the_wait(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.error(503, retry_after_s=0.4), Turn.text("ok"))
    started = time.monotonic()

    await collect(client, request_for(fake_llm))

    assert time.monotonic() - started >= 0.4
    assert len(fake_llm.requests) == 2


async def test_a_retry_after_beyond_the_cap_fails_at_once(fake_llm: FakeLLM) -> None:
    client = LiteLLMClient(timeout_s=5, max_retry_delay_s=1)
    fake_llm.add(Turn.error(429, retry_after_s=30), Turn.text("never"))

    with pytest.raises(LLMRateLimited):
        await collect(client, request_for(fake_llm))

    assert len(fake_llm.requests) == 1


async def test_a_failure_mid_stream_before_any_text_is_retried(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.error(500, "Upstream exploded.", after_chunks=0), Turn.text("ok"))

    chunks = await collect(client, request_for(fake_llm))

    assert chunks[0] == TextChunk(text="ok")
    assert len(fake_llm.requests) == 2


async def test_a_server_error_after_the_first_token_is_not_retried(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.error(500, "Upstream exploded.", after_chunks=2, text="one two three"), Turn.text("never"))
    received: list[LLMChunk] = []

    async def consume() -> None:
        async with aclosing(client.stream(request_for(fake_llm))) as stream:
            async for chunk in stream:
                received.append(chunk)

    with pytest.raises(LLMError) as caught:
        await consume()

    assert type(caught.value) is LLMError
    assert "Upstream exploded." in caught.value.detail
    assert received == [TextChunk(text="one"), TextChunk(text=" two")]
    assert len(fake_llm.requests) == 1
    assert fake_llm.pending == 1


async def test_a_dropped_connection_after_the_first_token_raises(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.error(500, after_chunks=1, drop_connection=True), Turn.text("never"))

    with pytest.raises(LLMError):
        await collect(client, request_for(fake_llm))

    assert len(fake_llm.requests) == 1


async def test_repeated_rate_limits_raise_llm_rate_limited(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(*[Turn.error(429, "Quota exceeded.") for _ in range(3)], Turn.text("never"))

    with pytest.raises(LLMRateLimited, match="Quota exceeded") as caught:
        await collect(client, request_for(fake_llm))

    assert len(fake_llm.requests) == client.max_attempts == 3
    assert isinstance(caught.value.__cause__, litellm.exceptions.RateLimitError)


async def test_client_errors_are_not_retried(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.error(400, "Unknown parameter."), Turn.text("never"))

    with pytest.raises(LLMError, match="Unknown parameter") as caught:
        await collect(client, request_for(fake_llm))

    assert caught.value.status == 502
    assert len(fake_llm.requests) == 1


async def test_an_unreachable_server_is_retried_then_reported(
    client: LiteLLMClient, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = LLMRequest(
        model="openai/fake",
        messages=[UserMessage(content="hi")],
        options={"api_base": f"http://127.0.0.1:{port}/v1", "api_key": API_KEY},
    )

    with pytest.raises(LLMError) as caught:
        await collect(client, request)

    assert caught.value.detail.startswith("Model 'openai/fake' failed:")
    retries = [record.message.split("; ")[1].split(" in ")[0] for record in caplog.records]
    assert retries == ["retry 1 of 2", "retry 2 of 2"]


async def test_a_model_that_does_not_answer_raises_llm_timeout(fake_llm: FakeLLM) -> None:
    client = LiteLLMClient(timeout_s=0.3)
    fake_llm.add(Turn.text("too late", delay_s=5))
    started = time.monotonic()

    with pytest.raises(LLMTimeout, match=r"sent nothing for 0\.3 s"):
        await collect(client, request_for(fake_llm))

    assert time.monotonic() - started < 3
    assert len(fake_llm.requests) == 1
    with anyio.fail_after(3):
        await fake_llm.requests[0].finished.wait()
    assert fake_llm.requests[0].disconnected


async def test_a_stall_between_chunks_raises_llm_timeout(fake_llm: FakeLLM) -> None:
    client = LiteLLMClient(timeout_s=0.3)
    fake_llm.add(Turn.text(["quick", " then", " nothing"], chunk_delay_s=2))

    with pytest.raises(LLMTimeout):
        await collect(client, request_for(fake_llm))


async def disconnect_seen(fake: FakeLLM) -> bool:
    with anyio.fail_after(3):
        await fake.requests[0].finished.wait()
    return fake.requests[0].disconnected


async def test_stopping_early_closes_the_upstream_connection(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text([f" word{i}" for i in range(40)], chunk_delay_s=0.05))

    async with aclosing(client.stream(request_for(fake_llm))) as stream:
        async for _ in stream:
            break

    assert await disconnect_seen(fake_llm)


async def test_cancelling_the_consumer_closes_the_upstream_connection(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text([f" word{i}" for i in range(40)], chunk_delay_s=0.05))
    received: list[LLMChunk] = []
    was_cancelled = True

    async def consume(scope: anyio.CancelScope) -> None:
        nonlocal was_cancelled
        async with aclosing(client.stream(request_for(fake_llm))) as stream:
            async for chunk in stream:
                received.append(chunk)
                if len(received) == 2:
                    scope.cancel()
        was_cancelled = False  # not reached: the cancellation must propagate, not end the stream quietly

    async with anyio.create_task_group() as group:
        group.start_soon(consume, group.cancel_scope)

    assert was_cancelled
    assert len(received) == 2
    assert await disconnect_seen(fake_llm)


async def test_provider_options_reach_the_model(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text("ok"))

    await collect(
        client, request_for(fake_llm, temperature=0.25, max_tokens=64, extra_headers={"x-inkeep-test": "yes"})
    )

    [seen] = fake_llm.requests
    assert (seen.body["temperature"], seen.body["max_tokens"]) == (0.25, 64)
    assert seen.headers["x-inkeep-test"] == "yes"
    assert seen.headers["authorization"] == f"Bearer {API_KEY}"
    assert seen.body["stream"] is True
    assert seen.body["stream_options"] == {"include_usage": True}


async def test_messages_and_tools_reach_the_model_in_openai_form(client: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text("It is 3."))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
    request = LLMRequest(
        model="openai/fake",
        messages=[
            SystemMessage(content="You add numbers."),
            UserMessage(content="1+2?"),
            AssistantMessage(tool_calls=(ToolCall(id="call_1", name="add", arguments={"a": 1, "b": 2}),)),
            ToolResultMessage(tool_call_id="call_1", content="3"),
        ],
        tools=[ToolSpec(name="add", description="Add two integers.", parameters=schema)],
        options={"api_base": fake_llm.base_url, "api_key": API_KEY},
    )

    await collect(client, request)

    [seen] = fake_llm.requests
    assert seen.model == "fake"
    assert seen.messages == [
        {"role": "system", "content": "You add numbers."},
        {"role": "user", "content": "1+2?"},
        {
            "role": "assistant",  # `content: null` is what we send; litellm drops null fields on the way
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "3"},
    ]
    assert seen.tools == [
        {"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": schema}}
    ]


@pytest.mark.parametrize("status", [401, 429, 500])
async def test_the_api_key_never_appears_in_errors(client: LiteLLMClient, fake_llm: FakeLLM, status: int) -> None:
    echoing = f"Incorrect API key provided: {API_KEY}. Authorization: Bearer {API_KEY}"
    fake_llm.add(*[Turn.error(status, echoing) for _ in range(3)])

    with pytest.raises(LLMError) as caught:
        await collect(client, request_for(fake_llm, extra_headers={"x-api-token": "tok-abcdefgh"}))

    assert API_KEY not in str(caught.value)
    assert API_KEY[:12] not in caught.value.detail
    assert "[redacted]" in caught.value.detail


async def test_warm_imports_litellm_once() -> None:
    client = LiteLLMClient()
    seam: LLMClient = client  # the class satisfies the Protocol the executor depends on
    await client.warm()
    loaded = client._litellm
    await client.warm()

    assert loaded is not None
    assert client._litellm is loaded
    assert seam is client


@pytest.fixture
def never_warmed() -> LiteLLMClient:
    return LiteLLMClient(timeout_s=5)


async def test_stream_warms_a_cold_client_itself(never_warmed: LiteLLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text("ok"))

    chunks = await collect(never_warmed, request_for(fake_llm))

    assert chunks[0] == TextChunk(text="ok")
