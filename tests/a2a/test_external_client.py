"""Our A2A client on its own: card reading, answers in 0.3 and 1.0 shape, retries, errors.

The wire-format functions are pure; the HTTP behaviour runs against a small scripted Starlette server
on loopback (the a2a-sdk server is used by test_external_agents.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest
from starlette.responses import JSONResponse, Response

from inkeep_runtime.a2a.client import (
    A2AError,
    A2AProtocolError,
    A2ARejected,
    A2ATimeout,
    A2AUnavailable,
    RemoteAgent,
)
from inkeep_runtime.a2a.client_wire import answer_from_result, card_urls, endpoint_from_card, retry_after, send_request
from tests.fakes.scripted_a2a import MESSAGE_0_3, TASK_1_0, Peer, card, client, remote, rpc, running, status
from tests.servers import free_port

CARD_URL = "http://peer.example/agents/a/.well-known/agent-card.json"


# --- wire formats (pure) ---


def test_card_urls_try_the_new_then_the_old_well_known_path() -> None:
    assert card_urls("http://h/agents/a/") == [
        "http://h/agents/a/.well-known/agent-card.json",
        "http://h/agents/a/.well-known/agent.json",
    ]
    assert card_urls("http://h/cards/a.json") == ["http://h/cards/a.json"]


def test_hybrid_card_picks_the_1_0_interface() -> None:
    hybrid = {
        "name": "echo",
        "supportedInterfaces": [
            {"url": "http://h/a2a/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": "http://h/a2a/v03", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        "url": "http://h/a2a/v03",
        "protocolVersion": "0.3",
        "capabilities": {"streaming": True},
    }
    endpoint = endpoint_from_card(hybrid, CARD_URL, "a")
    assert (endpoint.url, endpoint.protocol_version, endpoint.name, endpoint.is_streaming) == (
        "http://h/a2a/v1",
        "1.0",
        "echo",
        True,
    )


@pytest.mark.parametrize("version", ["0.3.0", "0.2.5", None])
def test_legacy_cards_speak_0_3_and_relative_urls_resolve(version: str | None) -> None:
    legacy = {"name": "inkeep", "url": "../a2a", **({"protocolVersion": version} if version else {})}
    endpoint = endpoint_from_card(legacy, CARD_URL, "a")
    assert (endpoint.url, endpoint.protocol_version) == ("http://peer.example/agents/a/a2a", "0.3")


def test_card_without_a_json_rpc_interface_is_refused() -> None:
    grpc_only = {"supportedInterfaces": [{"url": "h:1", "protocolBinding": "GRPC", "protocolVersion": "1.0"}]}
    with pytest.raises(A2AProtocolError, match="names no JSON-RPC endpoint"):
        endpoint_from_card(grpc_only, CARD_URL, "a")
    with pytest.raises(A2AProtocolError, match="not a JSON object"):
        endpoint_from_card(["not", "a", "card"], CARD_URL, "a")


def test_send_requests_follow_each_version() -> None:
    new = send_request("1.0", "hi", context_id="ctx", metadata={"fromAgentId": "router"})
    assert new["method"] == "SendMessage"
    assert new["params"]["message"] | {"messageId": "x"} == {
        "messageId": "x",
        "role": "ROLE_USER",
        "parts": [{"text": "hi"}],
        "contextId": "ctx",
        "metadata": {"fromAgentId": "router"},
    }
    old = send_request("0.3", "hi", context_id=None, metadata=None)
    assert old["method"] == "message/send"
    assert old["params"]["message"] | {"messageId": "x"} == {
        "messageId": "x",
        "kind": "message",
        "role": "user",
        "parts": [{"kind": "text", "text": "hi"}],
    }
    assert old["params"]["configuration"]["blocking"] is True


def test_answers_are_text_and_data_parts_of_either_version() -> None:
    task = answer_from_result("a", TASK_1_0)
    assert (task.text, task.context_id, task.task_id, task.state) == (
        'Forty-two.\n{"answer": 42}',
        "ctx-1",
        "task-1",
        "completed",
    )
    message = answer_from_result("a", MESSAGE_0_3)
    assert (message.text, message.context_id) == ("Hello from 0.3.", "ctx-2")
    wrapped = answer_from_result(
        "a",
        {
            "message": {
                "messageId": "m",
                "role": "ROLE_AGENT",
                "parts": [{"url": "http://f/x.pdf", "filename": "x.pdf"}],
            }
        },
    )
    assert wrapped.text == "[file x.pdf: http://f/x.pdf]"


def test_task_without_artifacts_answers_with_its_status_or_last_agent_message() -> None:
    waiting = {
        "kind": "task",
        "id": "t",
        "contextId": "c",
        "status": {"state": "input-required", "message": {"parts": [{"kind": "text", "text": "Which order?"}]}},
    }
    answer = answer_from_result("a", waiting)
    assert (answer.text, answer.state) == ("Which order?", "input-required")
    history = {
        "task": {
            "id": "t",
            "status": {"state": "TASK_STATE_COMPLETED"},
            "history": [
                {"role": "ROLE_USER", "parts": [{"text": "q"}]},
                {"role": "ROLE_AGENT", "parts": [{"text": "From history."}]},
            ],
        }
    }
    assert answer_from_result("a", history).text == "From history."


def test_failed_task_and_garbage_are_errors() -> None:
    failed = {"task": {"id": "t", "status": {"state": "TASK_STATE_FAILED", "message": {"parts": [{"text": "boom"}]}}}}
    with pytest.raises(A2AError, match="ended its task as failed: boom"):
        answer_from_result("a", failed)
    with pytest.raises(A2AProtocolError, match="neither an A2A task nor a message"):
        answer_from_result("a", {"weird": True})


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("1.5") == 1.5
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after(soon) or 0) <= 30
    assert retry_after("soon-ish") is None
    assert retry_after(None) is None


# --- over HTTP ---


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_send_resolves_the_card_and_posts_the_versioned_method(version: str) -> None:
    async with running(Peer(card=card(version), replies=[rpc(TASK_1_0), rpc(MESSAGE_0_3)])) as peer:
        a2a = client()
        first = await a2a.send_message(remote(peer), "question", context_id="ctx-9")
        second = await a2a.send_message(remote(peer), "again")
    assert first.text == 'Forty-two.\n{"answer": 42}'
    assert second.text == "Hello from 0.3."
    assert [(m, p) for m, p, _ in peer.seen] == [
        ("GET", "/.well-known/agent-card.json"),
        ("POST", "/rpc"),
        ("POST", "/rpc"),
    ]
    assert peer.posts()[0]["method"] == ("SendMessage" if version == "1.0" else "message/send")
    assert peer.posts()[0]["params"]["message"]["contextId"] == "ctx-9"


async def test_old_agent_json_card_is_found() -> None:
    async with running(Peer(card=card("0.3"), card_path="/.well-known/agent.json", replies=[rpc(MESSAGE_0_3)])) as peer:
        answer = await client().send_message(remote(peer), "hi")
    assert answer.text == "Hello from 0.3."
    assert [p for _, p, _ in peer.seen] == ["/.well-known/agent-card.json", "/.well-known/agent.json", "/rpc"]


async def test_without_a_card_the_base_url_is_the_endpoint() -> None:
    async with running(Peer(replies=[rpc(MESSAGE_0_3)])) as peer:
        answer = await client().send_message(remote(peer, f"{peer.base_url}/a2a"), "hi")
    assert answer.text == "Hello from 0.3."
    assert peer.seen[-1][:2] == ("POST", "/a2a")
    assert peer.posts()[0]["method"] == "message/send"


async def test_retry_after_is_honoured() -> None:
    async with running(Peer(card=card(), replies=[status(429, **{"Retry-After": "0.3"}), rpc(TASK_1_0)])) as peer:
        started = anyio.current_time()
        answer = await client().send_message(remote(peer), "hi")
        waited = anyio.current_time() - started
    assert answer.text.startswith("Forty-two.")
    assert waited >= 0.3


async def test_retry_after_beyond_the_time_left_gives_up_at_once() -> None:
    async with running(Peer(card=card(), replies=[status(503, **{"Retry-After": "30"})])) as peer:
        with (
            anyio.fail_after(4),
            pytest.raises(A2AUnavailable, match="answered HTTP 503, and the call has no time left"),
        ):
            await client(timeout_s=5.0, retry_max_s=60).send_message(remote(peer), "hi")


async def test_5xx_on_every_attempt_is_unavailable() -> None:
    async with running(Peer(card=card(), replies=[status(502), status(503), status(500)])) as peer:
        with pytest.raises(A2AUnavailable, match="answered HTTP 500 on every attempt"):
            await client().send_message(remote(peer), "hi")
    assert len(peer.posts()) == 3


async def test_unreachable_agent_is_unavailable_after_retries() -> None:
    agent = RemoteAgent(id="gone", base_url=f"http://127.0.0.1:{free_port()}/x?token=top-secret")
    with pytest.raises(A2AUnavailable) as caught:
        await client().send_message(agent, "hi")
    assert "could not be reached at http://127.0.0.1:" in caught.value.detail
    assert "after 3 attempt(s)" in caught.value.detail
    assert "top-secret" not in caught.value.detail


def rpc_error(body: dict[str, Any]) -> Response:
    error = {"code": -32601, "message": "Method not found"}
    return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "error": error})


def not_json(_body: dict[str, Any]) -> Response:
    return Response("<html>oops</html>")


async def test_json_rpc_errors_and_bad_answers_are_typed() -> None:
    async with running(Peer(card=card(), replies=[rpc_error, not_json])) as peer:
        a2a = client()
        with pytest.raises(A2ARejected, match="JSON-RPC error -32601: Method not found"):
            await a2a.send_message(remote(peer), "hi")
        with pytest.raises(A2AProtocolError, match="is not JSON"):
            await a2a.send_message(remote(peer), "hi")


async def test_404_from_the_endpoint_forgets_the_card() -> None:
    async with running(Peer(card=card(), replies=[status(404), rpc(TASK_1_0)])) as peer:
        a2a = client()
        with pytest.raises(A2ARejected, match="HTTP 404"):
            await a2a.send_message(remote(peer), "hi")
        await a2a.send_message(remote(peer), "hi")
    assert [m for m, _, _ in peer.seen] == ["GET", "POST", "GET", "POST"]


async def test_the_whole_call_is_bounded_by_the_timeout() -> None:
    async with running(Peer(card=card(), replies=[rpc(TASK_1_0)], delay_s=0.5)) as peer:
        with pytest.raises(A2ATimeout, match=r"did not answer within 0\.1 s"):
            await client(timeout_s=0.1).send_message(remote(peer), "hi")


async def test_shared_http_client_is_used() -> None:
    async with running(Peer(card=card(), replies=[rpc(TASK_1_0)])) as peer, httpx.AsyncClient() as http:
        answer = await client(http=http).send_message(remote(peer), "hi")
        assert not http.is_closed
    assert answer.context_id == "ctx-1"
