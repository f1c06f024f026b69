"""The fake model speaks valid OpenAI: checked with the official SDK in strict mode, over real loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import openai
import pytest
from openai import AsyncOpenAI
from starlette.applications import Starlette

from tests.fakes import fake_llm as fakes
from tests.fakes.fake_llm import FakeLLM, RecordedRequest, Turn
from tests.fakes.servers import serve

fake_llm = fakes.fake_llm  # registers the fixture here until tests/conftest.py does it for every test

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
STRICT_TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            **TOOLS[0]["function"],
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
]


@pytest.fixture
async def sdk(fake_llm: FakeLLM) -> AsyncIterator[AsyncOpenAI]:
    """The official client, strict: every chunk is validated against the SDK's pydantic models."""
    client = AsyncOpenAI(base_url=fake_llm.base_url, api_key="x", max_retries=0, _strict_response_validation=True)
    async with client:
        yield client


async def test_streamed_text_validates_strictly_and_arrives_in_order(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.text("Hello there, my friend", usage=(7, 4)))
    stream = await sdk.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    assert [c.choices[0].delta.content for c in chunks if c.choices] == ["", "Hello", " there,", " my", " friend", None]
    assert [c.choices[0].delta.role for c in chunks if c.choices][:2] == ["assistant", None]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (7, 4)
    assert {c.id for c in chunks} == {"chatcmpl-fake-1"}
    assert {c.model for c in chunks} == {"fake"}


async def test_usage_chunk_is_only_sent_when_asked_for(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.text("Hi"))
    stream = await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}], stream=True)
    chunks = [chunk async for chunk in stream]

    assert all(chunk.choices and chunk.usage is None for chunk in chunks)


async def test_streamed_parallel_tool_calls_rebuild_with_the_stream_helper(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    calls = [("call_1", "get_weather", {"city": "SF"}), ("call_2", "get_weather", {"city": "NYC"})]
    fake_llm.add(Turn.tool_calls(calls))
    async with sdk.chat.completions.stream(
        model="fake",
        messages=[{"role": "user", "content": "weather?"}],
        tools=STRICT_TOOLS,
        stream_options={"include_usage": True},
    ) as stream:
        completion = await stream.get_final_completion()

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.role == "assistant"
    rebuilt = choice.message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in rebuilt] == [
        ("call_1", "get_weather", '{"city": "SF"}'),
        ("call_2", "get_weather", '{"city": "NYC"}'),
    ]
    assert completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


async def test_tool_call_fragments_carry_id_and_name_only_once(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.tool_calls([("call_1", "get_weather", {"city": "San Francisco"})]))
    stream = await sdk.chat.completions.create(
        model="fake",
        messages=[{"role": "user", "content": "hi"}],
        tools=TOOLS,
        stream=True,
    )
    fragments = [c.choices[0].delta.tool_calls[0] async for c in stream if c.choices and c.choices[0].delta.tool_calls]

    assert len(fragments) > 2
    assert [f.id for f in fragments] == ["call_1"] + [None] * (len(fragments) - 1)
    assert [f.function and f.function.name for f in fragments][1:] == [None] * (len(fragments) - 1)
    assert "".join(f.function.arguments or "" for f in fragments if f.function) == '{"city": "San Francisco"}'


async def test_non_streaming_text_validates_strictly(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.text("Hello there", usage=(3, 2)))
    completion = await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 2, 5)


async def test_non_streaming_tool_calls_validate_strictly(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.tool_calls([("call_9", "get_weather", {"city": "Oslo"})]))
    completion = await sdk.chat.completions.create(
        model="fake",
        messages=[{"role": "user", "content": "hi"}],
        tools=TOOLS,
    )

    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls is not None
    [call] = message.tool_calls
    assert call.type == "function"
    assert (call.id, call.function.name, call.function.arguments) == ("call_9", "get_weather", '{"city": "Oslo"}')


async def test_http_error_carries_status_message_and_retry_after(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.error(429, "Slow down.", retry_after_s=1.5))
    with pytest.raises(openai.RateLimitError) as caught:
        await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}], stream=True)

    assert caught.value.status_code == 429
    assert caught.value.body == {"message": "Slow down.", "type": "rate_limit_error", "param": None, "code": None}
    assert caught.value.response.headers["retry-after"] == "1.5"


async def test_error_after_chunks_aborts_the_stream_with_an_error_event(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.error(500, "Upstream exploded.", after_chunks=2, text="one two three"))
    stream = await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}], stream=True)
    texts: list[str | None] = []

    async def read() -> None:
        async for chunk in stream:
            texts.append(chunk.choices[0].delta.content)

    with pytest.raises(openai.APIError, match=r"Upstream exploded\."):
        await read()

    assert texts == ["", "one", " two"]


async def test_dropped_connection_cuts_the_stream(fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.error(500, after_chunks=1, drop_connection=True))
    request = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    lines: list[str] = []

    async def read() -> None:
        async with httpx.AsyncClient() as http, http.stream("POST", url, json=request) as response:
            async for line in response.aiter_lines():
                if line:
                    lines.append(line)

    url = f"{fake_llm.base_url}/chat/completions"
    with pytest.raises(httpx.RemoteProtocolError):
        await read()

    assert len(lines) == 2  # the role chunk and one content chunk, then nothing: no error event, no [DONE]


async def test_every_request_is_recorded(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.text("ok"))
    messages: list[Any] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    await sdk.chat.completions.create(
        model="fake-model",
        messages=messages,
        tools=TOOLS,
        temperature=0.5,
    )

    [seen] = fake_llm.requests
    assert seen.model == "fake-model"
    assert seen.messages == messages
    assert seen.tool_names == ["get_weather"]
    assert seen.body["temperature"] == 0.5
    assert seen.headers["authorization"] == "Bearer x"
    assert not seen.is_streaming
    assert not seen.disconnected
    assert fake_llm.pending == 0


async def test_an_empty_script_answers_400_naming_the_problem(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="no scripted turn left for request 1"):
        await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])


async def test_a_responder_answers_concurrent_requests_by_content(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.responder = lambda request: Turn.text(f"echo {request.messages[-1]['content']}", chunk_delay_s=0.01)
    answers: dict[str, str] = {}

    async def ask(word: str) -> None:
        completion = await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": word}])
        answers[word] = completion.choices[0].message.content or ""

    async with anyio.create_task_group() as group:
        for word in ("alpha", "beta", "gamma"):
            group.start_soon(ask, word)

    assert answers == {"alpha": "echo alpha", "beta": "echo beta", "gamma": "echo gamma"}


async def test_an_async_responder_in_the_queue_answers_one_request(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    async def decide(request: RecordedRequest) -> Turn:
        return Turn.text(f"{len(request.messages)} messages")

    fake_llm.add(decide)
    completion = await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])

    assert completion.choices[0].message.content == "1 messages"


async def test_delay_holds_back_the_whole_response(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.text("late", delay_s=0.3))
    started = time.monotonic()
    await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])

    assert time.monotonic() - started >= 0.3


async def test_a_client_leaving_mid_stream_is_recorded_as_disconnected(fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text([f"word{i} " for i in range(50)], chunk_delay_s=0.05))
    request = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    url = f"{fake_llm.base_url}/chat/completions"
    async with httpx.AsyncClient() as http, http.stream("POST", url, json=request) as response:
        async for line in response.aiter_lines():
            if "word0" in line:
                break
    with anyio.fail_after(5):
        await fake_llm.requests[0].finished.wait()

    assert fake_llm.requests[0].disconnected


async def test_a_complete_stream_is_not_recorded_as_disconnected(fake_llm: FakeLLM, sdk: AsyncOpenAI) -> None:
    fake_llm.add(Turn.text("all of it"))
    stream = await sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}], stream=True)
    _ = [chunk async for chunk in stream]
    await fake_llm.requests[0].finished.wait()

    assert not fake_llm.requests[0].disconnected


async def test_serve_runs_several_servers_at_once() -> None:
    first, second = FakeLLM().add(Turn.text("one")), FakeLLM().add(Turn.text("two"))
    async with first.running(), second.running(), httpx.AsyncClient() as http:
        assert first.base_url != second.base_url
        request = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
        replies = [
            (await http.post(f"{fake.base_url}/chat/completions", json=request)).json() for fake in (first, second)
        ]

    assert [reply["choices"][0]["message"]["content"] for reply in replies] == ["one", "two"]
    assert first.base_url == second.base_url == ""


async def test_serve_stops_listening_on_exit() -> None:
    fake = FakeLLM()
    async with serve(fake.app) as url:
        pass
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_serve_reports_an_app_whose_start_up_fails() -> None:
    @asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        msg = "no database"
        raise RuntimeError(msg)
        yield

    with pytest.raises(RuntimeError, match="failed its lifespan start-up"):
        async with serve(Starlette(lifespan=broken)):
            pass
