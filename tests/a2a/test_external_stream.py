"""Streamed sends (`message/stream`, `SendStreamingMessage`): the stream reader and the client over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from starlette.responses import Response, StreamingResponse

from inkeep_runtime.a2a.client import (
    A2AAnswer,
    A2ADelta,
    A2AError,
    A2AProtocolError,
    A2ATimeout,
    A2AUnavailable,
    RemoteAgent,
)
from inkeep_runtime.a2a.client_stream import StreamReader, sse_data
from tests.fakes.scripted_a2a import TASK_1_0, Peer, card, client, remote, rpc, running, status

ARTIFACT = {"artifactId": "answer"}


def artifact_1_0(*parts: dict[str, Any], append: bool = False) -> dict[str, Any]:
    update = {"taskId": "t", "contextId": "c", "artifact": {**ARTIFACT, "parts": list(parts)}, "append": append}
    return {"artifactUpdate": update}


def status_1_0(state: str, text: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"state": state}
    if text:
        status["message"] = {"messageId": "s", "role": "ROLE_AGENT", "parts": [{"text": text}]}
    return {"statusUpdate": {"taskId": "t", "contextId": "c", "status": status}}


def feed_all(reader: StreamReader, results: list[dict[str, Any]]) -> list[str]:
    return [reader.feed(result) for result in results]


def test_appended_text_is_glued_and_data_gets_its_own_line() -> None:
    reader = StreamReader("a")
    pieces = feed_all(
        reader,
        [
            {"task": {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_SUBMITTED"}}},
            status_1_0("TASK_STATE_WORKING"),
            artifact_1_0({"text": "Hel"}),
            artifact_1_0({"text": "lo."}, append=True),
            artifact_1_0({"data": {"n": 1}}, append=True),
            status_1_0("TASK_STATE_COMPLETED"),
        ],
    )
    assert pieces == ["", "", "Hel", "lo.", '\n{"n": 1}', ""]
    assert reader.is_done
    assert reader.answer() == A2AAnswer(text='Hello.\n{"n": 1}', context_id="c", task_id="t", state="completed")


def test_0_3_stream_ends_with_the_final_update_and_may_answer_in_the_status() -> None:
    reader = StreamReader("a")
    working = {"kind": "status-update", "taskId": "t", "contextId": "c", "status": {"state": "working"}, "final": False}
    done = {
        "kind": "status-update",
        "taskId": "t",
        "contextId": "c",
        "status": {"state": "completed", "message": {"kind": "message", "parts": [{"kind": "text", "text": "Done."}]}},
        "final": True,
    }
    assert feed_all(reader, [working, done]) == ["", "Done."]
    assert reader.is_done
    assert reader.answer().state == "completed"


def test_a_message_is_the_whole_stream() -> None:
    reader = StreamReader("a")
    message = {"kind": "message", "contextId": "c", "parts": [{"kind": "text", "text": "One shot."}]}
    assert reader.feed(message) == "One shot."
    assert reader.is_done


def test_failed_status_and_foreign_events_raise() -> None:
    with pytest.raises(A2AError, match="ended its task as failed: no luck"):
        StreamReader("a").feed(status_1_0("TASK_STATE_FAILED", "no luck"))
    with pytest.raises(A2AProtocolError, match="no A2A task, message or update"):
        StreamReader("a").feed({"hello": "world"})
    with pytest.raises(A2AProtocolError, match="ended its stream without an answer"):
        StreamReader("a").answer()


async def test_sse_data_joins_lines_and_skips_comments() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in [": ping", 'data: {"a":', "data: 1}", "", "event: x", "data:2", ""]:
            yield line

    assert [data async for data in sse_data(lines())] == ['{"a":\n1}', "2"]


def sse(results: list[dict[str, Any]], *, pause_s: float = 0.0, cut: bool = False) -> Any:
    """A reply streaming each result as a JSON-RPC response event."""

    def reply(body: dict[str, Any]) -> Response:
        async def events() -> AsyncIterator[str]:
            for result in results:
                yield f"data: {json.dumps({'jsonrpc': '2.0', 'id': body['id'], 'result': result})}\n\n"
                await anyio.sleep(pause_s)
            if cut:
                msg = "the server died mid-stream"
                raise RuntimeError(msg)

        return StreamingResponse(events(), media_type="text/event-stream")

    return reply


async def collect(a2a: Any, agent: RemoteAgent) -> list[A2ADelta | A2AAnswer]:
    return [item async for item in a2a.stream_message(agent, "hi", context_id="ctx")]


async def test_streaming_card_gets_a_streamed_send() -> None:
    results = [
        artifact_1_0({"text": "Str"}),
        artifact_1_0({"text": "eamed."}, append=True),
        status_1_0("TASK_STATE_COMPLETED"),
    ]
    async with running(Peer(card=card(), replies=[sse(results)])) as peer:
        items = await collect(client(), remote(peer))
    assert items[:-1] == [A2ADelta("Str"), A2ADelta("eamed.")]
    assert items[-1] == A2AAnswer(text="Streamed.", context_id="c", task_id="t", state="completed")
    request = peer.posts()[0]
    assert (request["method"], request["params"]["message"]["contextId"]) == ("SendStreamingMessage", "ctx")


async def test_0_3_streaming_uses_message_stream() -> None:
    done = {"kind": "status-update", "taskId": "t", "contextId": "c", "status": {"state": "completed"}, "final": True}
    chunk = {
        "kind": "artifact-update",
        "taskId": "t",
        "contextId": "c",
        "artifact": {"artifactId": "a", "parts": [{"kind": "text", "text": "Old."}]},
    }
    legacy = {**card("0.3"), "capabilities": {"streaming": True}}
    async with running(Peer(card=legacy, replies=[sse([chunk, done])])) as peer:
        items = await collect(client(), remote(peer))
    assert items[-1] == A2AAnswer(text="Old.", context_id="c", task_id="t", state="completed")
    assert peer.posts()[0]["method"] == "message/stream"


async def test_agents_that_do_not_stream_get_a_blocking_send() -> None:
    async with running(Peer(card=card("0.3"), replies=[rpc(TASK_1_0)])) as peer:
        items = await collect(client(), remote(peer))
    assert items[0] == A2ADelta('Forty-two.\n{"answer": 42}')
    assert isinstance(items[1], A2AAnswer)
    assert peer.posts()[0]["method"] == "message/send"


async def test_a_json_answer_to_a_streaming_request_is_accepted() -> None:
    async with running(Peer(card=card(), replies=[rpc(TASK_1_0)])) as peer:
        items = await collect(client(), remote(peer))
    assert items[-1] == A2AAnswer(text='Forty-two.\n{"answer": 42}', context_id="ctx-1", task_id="task-1")


async def collect_until_error(a2a: Any, agent: RemoteAgent) -> tuple[list[Any], Exception]:
    seen: list[Any] = []
    try:
        async for item in a2a.stream_message(agent, "hi"):
            seen.append(item)
    except A2AError as exc:
        return seen, exc
    raise AssertionError(seen)


async def test_a_stream_that_stalls_times_out() -> None:
    stalled = sse([artifact_1_0({"text": "Slow"}), status_1_0("TASK_STATE_COMPLETED")], pause_s=30)
    async with running(Peer(card=card(), replies=[stalled])) as peer:
        started = anyio.current_time()
        seen, error = await collect_until_error(client(timeout_s=1.0), remote(peer))
        assert anyio.current_time() - started < 3
    assert seen == [A2ADelta("Slow")]
    assert isinstance(error, A2ATimeout)


async def test_a_stream_that_breaks_off_is_unavailable() -> None:
    async with running(Peer(card=card(), replies=[sse([artifact_1_0({"text": "Half"})], cut=True)])) as peer:
        seen, error = await collect_until_error(client(), remote(peer))
    assert seen == [A2ADelta("Half")]
    assert isinstance(error, A2AUnavailable)
    assert error.detail == "External agent 'peer' broke off its answer stream."


async def test_http_errors_before_the_stream_are_retried_then_raised() -> None:
    async with running(Peer(card=card(), replies=[status(503), status(401)])) as peer:
        with pytest.raises(A2AError, match="HTTP 401"):
            await collect(client(), remote(peer))
    assert len(peer.posts()) == 2
