"""`POST .../graphs/{g}/v1/chat/completions`: OpenAI chunk streams, completions and problems, checked with `openai`."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette

from inkeep_runtime import Settings
from inkeep_runtime.errors import InvalidRequest, NotFound, RunDeadlineExceeded
from inkeep_runtime.events import AgentTransferred, RunCompleted, RunStarted, TextDelta
from inkeep_runtime.http import chat
from inkeep_runtime.store.engine import Store
from tests.http.runs import CHAT, GRAPH, TEXT_RUN, ScriptedRunner, failed, make_app, run_client, sse_payloads

LIMIT = 4096
HELLO = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def backend() -> str:
    """The routes do not depend on the database: SQLite only."""
    return "sqlite"


@pytest.fixture
def settings() -> Settings:
    """Development mode (auth is covered by test_run_auth.py) and a small body limit."""
    return Settings(database_url="sqlite+aiosqlite:///:memory:", dev=True, max_body_bytes=LIMIT, max_messages=5)


@pytest.fixture
def runner() -> ScriptedRunner:
    """A runner answering "Hello"."""
    return ScriptedRunner()


@pytest.fixture
def app(settings: Settings, store: Store, runner: ScriptedRunner) -> Starlette:
    """The app under test."""
    return make_app(settings, store, runner)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client (graphs g1, g2 exist)."""
    async with run_client(app) as http:
        yield http


@pytest.fixture
def sdk(app: Starlette, client: httpx.AsyncClient) -> openai.AsyncOpenAI:
    """The official SDK pointed at graph g1, validating every response strictly."""
    return openai.AsyncOpenAI(
        base_url=f"http://testserver{GRAPH}/v1",
        api_key="unused-in-dev-mode",
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        max_retries=0,
        _strict_response_validation=True,
    )


def _chunks(response: httpx.Response) -> list[Any]:
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    assert payloads.count("[DONE]") == 1
    return [json.loads(payload) for payload in payloads[:-1]]


def _deltas(chunks: list[Any]) -> list[tuple[dict[str, Any], str | None]]:
    return [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks if c.get("choices")]


# --- streaming -------------------------------------------------------------------------------------


async def test_stream_sends_role_deltas_finish_and_done(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, json={**HELLO, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-conversation-id"] == "conv-new"
    assert response.headers["cache-control"] == "no-cache"
    chunks = _chunks(response)
    assert _deltas(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hel"}, None),
        ({"content": "lo"}, None),
        ({}, "stop"),
    ]
    assert {(c["id"], c["object"], c["model"]) for c in chunks} == {
        ("chatcmpl-run1", "chat.completion.chunk", "gpt-test")
    }
    assert "usage" not in chunks[0]


async def test_stream_includes_usage_when_asked(client: httpx.AsyncClient) -> None:
    body = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    chunks = _chunks(await client.post(CHAT, json=body))
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert all(c["usage"] is None for c in chunks[:-1])


async def test_model_the_run_reports_replaces_the_requested_one(
    runner: ScriptedRunner, client: httpx.AsyncClient
) -> None:
    runner.events = [RunStarted(run_id="", conversation_id="", graph_id="g1", agent_id="a", model="real")]
    chunks = _chunks(await client.post(CHAT, json={**HELLO, "stream": True}))
    assert {c["model"] for c in chunks} == {"real"}


async def test_model_defaults_to_the_graph_id(client: httpx.AsyncClient) -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}], "stream": True}
    assert {c["model"] for c in _chunks(await client.post(CHAT, json=body))} == {"g1"}


async def test_emit_operations_header_reaches_the_run_and_the_stream(
    runner: ScriptedRunner, client: httpx.AsyncClient
) -> None:
    runner.events = [
        *TEXT_RUN[:3],
        AgentTransferred(from_agent_id="router", to_agent_id="billing", reason="money"),
        RunCompleted(),
    ]
    response = await client.post(CHAT, json={**HELLO, "stream": True}, headers={"x-emit-operations": "true"})
    assert runner.last_request.emit_operations
    contents = [delta.get("content") for delta, _ in _deltas(_chunks(response))]
    operations = [json.loads(c) for c in contents if c and c.startswith("{")]
    assert [op["data"]["type"] for op in operations] == ["agent_initializing", "transfer", "completion"]


async def test_stream_without_operations_hides_them(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    runner.events = [*TEXT_RUN[:3], AgentTransferred(from_agent_id="router", to_agent_id="b"), RunCompleted()]
    contents = [d.get("content") for d, _ in _deltas(_chunks(await client.post(CHAT, json={**HELLO, "stream": True})))]
    assert contents == ["", "Hel", None]


async def test_run_failure_mid_stream_is_an_error_event_then_done(
    runner: ScriptedRunner, client: httpx.AsyncClient
) -> None:
    runner.events = failed(detail="Upstream said no.")
    response = await client.post(CHAT, json={**HELLO, "stream": True})
    assert response.status_code == 200
    chunks = _chunks(response)
    assert chunks[-1] == {
        "error": {"message": "Upstream said no.", "type": "server_error", "param": None, "code": "llm_error"}
    }


async def test_unexpected_exception_mid_stream_is_logged_and_opaque(
    runner: ScriptedRunner, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    runner.events = TEXT_RUN[:3]
    runner.stream_error = RuntimeError("database password is hunter2")
    with caplog.at_level(logging.ERROR, logger="inkeep_runtime"):
        response = await client.post(CHAT, json={**HELLO, "stream": True}, headers={"x-request-id": "req-abc"})
    assert response.status_code == 200
    assert "hunter2" not in response.text
    error = _chunks(response)[-1]["error"]
    assert error["code"] == "internal_server_error"
    assert "req-abc" in error["message"]
    assert any("req-abc" in r.getMessage() and r.exc_info for r in caplog.records)
    assert runner.stopped_by is RuntimeError


async def test_inkeep_error_mid_stream_keeps_its_detail(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    runner.events = TEXT_RUN[:3]
    runner.stream_error = RunDeadlineExceeded("The run took longer than 300 s.")
    error = _chunks(await client.post(CHAT, json={**HELLO, "stream": True}))[-1]["error"]
    assert (error["code"], error["message"]) == ("run_deadline_exceeded", "The run took longer than 300 s.")


async def test_stream_that_ends_without_a_terminal_event_is_closed_as_stop(
    runner: ScriptedRunner, client: httpx.AsyncClient
) -> None:
    runner.events = TEXT_RUN[:3]
    assert _deltas(_chunks(await client.post(CHAT, json={**HELLO, "stream": True})))[-1] == ({}, "stop")


# --- not streaming ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [None, False])
async def test_without_stream_true_the_answer_is_one_completion(
    client: httpx.AsyncClient, runner: ScriptedRunner, stream: bool | None
) -> None:
    body = HELLO if stream is None else {**HELLO, "stream": stream}
    response = await client.post(CHAT, json=body)
    assert response.status_code == 200
    assert response.headers["x-conversation-id"] == "conv-new"
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["id"] == "chatcmpl-run1"
    assert completion["choices"][0]["message"]["content"] == "Hello"
    assert completion["usage"]["total_tokens"] == 5
    assert not runner.last_request.is_streaming


async def test_failed_run_without_stream_is_problem_json_with_its_status(
    runner: ScriptedRunner, client: httpx.AsyncClient
) -> None:
    runner.events = failed(status=504, code="llm_timeout", detail="The model did not answer in time.")
    response = await client.post(CHAT, json=HELLO)
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["detail"], body["status"]) == ("llm_timeout", "The model did not answer in time.", 504)
    assert body["error"] == {"code": "llm_timeout", "message": "The model did not answer in time."}


async def test_unexpected_exception_without_stream_is_opaque_500(
    runner: ScriptedRunner, client: httpx.AsyncClient
) -> None:
    runner.stream_error = RuntimeError("secret internals")
    response = await client.post(CHAT, json=HELLO)
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert response.json()["code"] == "internal_server_error"


# --- refused before the run ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("Graph 'g1' does not exist in project 'p1'."), 404),
        (NotFound("Conversation 'c9' does not exist in graph 'g1'."), 404),
        (InvalidRequest("requestContext.userId is required by the graph's context config."), 400),
    ],
)
async def test_prepare_errors_are_problem_json(
    runner: ScriptedRunner, client: httpx.AsyncClient, error: Exception, status: int
) -> None:
    runner.prepare_error = error
    response = await client.post(CHAT, json={**HELLO, "stream": True})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == str(error)
    assert "x-conversation-id" not in response.headers


@pytest.mark.parametrize(
    ("content", "pointer"),
    [
        (b'{"messages": [', "/"),
        (b"[]", "/"),
        (json.dumps({"messages": "hi"}).encode(), "/messages"),
        (json.dumps({**HELLO, "stream": "yes"}).encode(), "/stream"),
        (json.dumps({"messages": [{"role": "user", "content": 7}]}).encode(), "/messages/0/content"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}] * 6}).encode(), "/messages"),
    ],
)
async def test_malformed_bodies_are_400_naming_the_field(
    runner: ScriptedRunner, client: httpx.AsyncClient, content: bytes, pointer: str
) -> None:
    response = await client.post(CHAT, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [error["pointer"] for error in response.json()["errors"]]
    assert runner.requests == []


async def test_oversized_body_is_413_and_the_server_keeps_answering(
    runner: ScriptedRunner, client: httpx.AsyncClient
) -> None:
    big = {"messages": [{"role": "user", "content": "x" * LIMIT}]}
    for _ in range(2):
        response = await client.post(CHAT, json=big)
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
    assert runner.requests == []
    assert (await client.post(CHAT, json=HELLO)).status_code == 200


async def test_request_fields_reach_the_runner(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ],
        "conversationId": "c1",
        "requestContext": {"userId": "u1"},
        "temperature": 0.5,
    }
    response = await client.post(CHAT, json=body)
    assert response.headers["x-conversation-id"] == "c1"
    target, request = runner.requests[-1]
    assert (target.tenant_id, target.project_id, target.graph_id) == ("t1", "p1", "g1")
    assert (request.conversation_id, request.user_text, len(request.history)) == ("c1", "Again", 3)
    assert dict(request.request_context) == {"userId": "u1"}
    assert request.options.temperature == 0.5


# --- the official SDK, strict ----------------------------------------------------------------------


async def test_openai_sdk_streams_strictly(sdk: openai.AsyncOpenAI) -> None:
    response = await sdk.chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert response.headers["x-conversation-id"] == "conv-new"
    chunks = [chunk async for chunk in response.parse()]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 5


async def test_openai_sdk_stream_helper_rebuilds_the_message(sdk: openai.AsyncOpenAI) -> None:
    async with sdk.chat.completions.stream(model="gpt-test", messages=[{"role": "user", "content": "Hi"}]) as stream:
        completion = await stream.get_final_completion()
    message = completion.choices[0].message
    assert (message.role, message.content, completion.choices[0].finish_reason) == ("assistant", "Hello", "stop")


async def test_openai_sdk_non_streaming_strictly(sdk: openai.AsyncOpenAI) -> None:
    response = await sdk.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
    )
    assert response.headers["x-conversation-id"] == "conv-new"
    completion = response.parse()
    assert completion.choices[0].message.content == "Hello"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 3


async def test_openai_sdk_raises_api_error_for_a_failure_mid_stream(
    runner: ScriptedRunner, sdk: openai.AsyncOpenAI
) -> None:
    runner.events = failed(detail="Upstream said no.")
    stream = await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}], stream=True)
    seen: list[str] = []

    async def read_all() -> None:
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError, match="Upstream said no"):
        await read_all()
    assert "".join(seen) == "Hel"


async def test_openai_sdk_maps_problems_to_its_exceptions(runner: ScriptedRunner, sdk: openai.AsyncOpenAI) -> None:
    runner.prepare_error = NotFound("Graph 'g1' does not exist in project 'p1'.")
    with pytest.raises(openai.NotFoundError, match="does not exist") as caught:
        await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.code == "not_found"
    with pytest.raises(openai.BadRequestError):
        await sdk.chat.completions.create(model="m", messages=[{"role": "assistant", "content": "no user"}])


async def test_openai_sdk_sees_a_failed_completion_as_a_status_error(
    runner: ScriptedRunner, sdk: openai.AsyncOpenAI
) -> None:
    runner.events = failed(status=503, code="llm_rate_limited", detail="Rate limited by the provider.")
    with pytest.raises(openai.InternalServerError, match="Rate limited") as caught:
        await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 503


async def test_text_deltas_are_not_resplit(runner: ScriptedRunner, client: httpx.AsyncClient) -> None:
    text = 'A whole sentence in one delta, with "quotes", a newline\nand ünïcode.'
    runner.events = [TEXT_RUN[0], TextDelta(agent_id="router", text=text), RunCompleted()]
    contents = [d.get("content") for d, _ in _deltas(_chunks(await client.post(CHAT, json={**HELLO, "stream": True})))]
    assert contents == ["", text, None]


async def test_openai_sdk_ignores_keep_alive_pings(
    runner: ScriptedRunner, sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat, "PING_INTERVAL_S", 0.02)
    runner.pause_s = 0.15
    assert ": ping" in (await client.post(CHAT, json={**HELLO, "stream": True})).text
    stream = await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}], stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "Hello"
