"""Raw JSON-RPC against our A2A endpoint: exact spec error objects, both method generations, health after bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inkeep_runtime.store.engine import Store
from tests.a2a.serving import GRAPH_PATH, Served, rpc, served
from tests.fakes.fake_llm import FakeLLM, Turn

SEND_03 = {"message": {"kind": "message", "messageId": "m1", "role": "user", "parts": [{"kind": "text", "text": "Hi"}]}}
SEND_10 = {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "Hi"}]}}


def _info(reason: str, **metadata: str) -> list[dict[str, Any]]:
    return [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "a2a-protocol.org",
            "metadata": metadata,
        }
    ]


@pytest.fixture
def backend() -> str:
    """The JSON-RPC layer is the same on both databases; the SDK tests cover PostgreSQL."""
    return "sqlite"


@pytest.fixture
async def server(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> AsyncIterator[Served]:
    """Graph g, served; the fake model answers every request with a short text."""
    fake_llm.responder = lambda _request: Turn.text("Hello from the router.")
    async with served(store, tmp_path, fake_llm) as running:
        yield running


async def _assert_healthy(server: Served) -> None:
    answer = await rpc(server, "message/send", SEND_03)
    assert answer["result"]["status"]["state"] == "completed"


async def test_body_that_is_not_json_is_a_parse_error(server: Served) -> None:
    response = await server.http.post(f"{GRAPH_PATH}/a2a", content=b"{not json")
    assert response.status_code == 200
    answer = response.json()
    assert answer == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": answer["error"]["message"]}}
    assert answer["error"]["message"].startswith("Invalid JSON payload: Expecting property name")
    await _assert_healthy(server)


async def test_missing_method_is_an_invalid_request(server: Served) -> None:
    response = await server.http.post(f"{GRAPH_PATH}/a2a", json={"jsonrpc": "2.0", "id": 7, "params": {}})
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32600,
            "message": "Invalid Request: `method` must be a non-empty string.",
            "data": {"field": "method"},
        },
    }
    await _assert_healthy(server)


@pytest.mark.parametrize(
    ("body", "member"),
    [
        ({"id": 1, "method": "message/send"}, "jsonrpc"),
        ({"jsonrpc": "2.0", "method": "message/send"}, "id"),
        ({"jsonrpc": "2.0", "id": {"x": 1}, "method": "message/send"}, "id"),
        ([{"jsonrpc": "2.0", "id": 1, "method": "message/send"}], "/"),
    ],
    ids=["no-jsonrpc", "no-id", "object-id", "batch"],
)
async def test_malformed_envelopes_are_invalid_requests(server: Served, body: Any, member: str) -> None:
    answer = (await server.http.post(f"{GRAPH_PATH}/a2a", json=body)).json()
    assert answer["error"]["code"] == -32600
    assert answer["error"]["data"] == {"field": member}


async def test_unknown_method_is_method_not_found(server: Served) -> None:
    answer = await rpc(server, "tasks/explode", {"id": "x"}, request_id="r-1")
    assert answer == {
        "jsonrpc": "2.0",
        "id": "r-1",
        "error": {
            "code": -32601,
            "message": "Method not found: 'tasks/explode' is not an A2A 0.3 or 1.0 method served here.",
            "data": {"method": "tasks/explode"},
        },
    }


async def test_wrong_params_name_the_field_in_both_versions(server: Served) -> None:
    bad_03 = {"message": {"kind": "message", "messageId": "m1", "role": "user", "parts": []}}
    answer = await rpc(server, "message/send", bad_03)
    assert answer["error"] == {
        "code": -32602,
        "message": "Invalid params: `message.parts` must be a non-empty array of parts.",
        "data": {"field": "message.parts"},
    }
    bad_10 = {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": 3}]}}
    answer = await rpc(server, "SendMessage", bad_10, version="1.0")
    assert answer["error"] == {
        "code": -32602,
        "message": "Invalid params: `message.parts[0].text` must be a string.",
        "data": _info("INVALID_PARAMS", field="message.parts[0].text"),
    }
    answer = await rpc(server, "GetTask", {}, version="1.0")
    assert answer["error"]["data"] == _info("INVALID_PARAMS", field="id")
    await _assert_healthy(server)


async def test_unknown_task_id_is_task_not_found(server: Served) -> None:
    answer = await rpc(server, "tasks/get", {"id": "nope"})
    assert answer == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32001, "message": "Task not found: 'nope'.", "data": {"taskId": "nope"}},
    }
    answer = await rpc(server, "GetTask", {"id": "nope"}, version="1.0")
    assert answer["error"] == {
        "code": -32001,
        "message": "Task not found: 'nope'.",
        "data": _info("TASK_NOT_FOUND", taskId="nope"),
    }
    for method in ("tasks/cancel", "tasks/resubscribe"):
        assert (await rpc(server, method, {"id": "nope"}))["error"]["code"] == -32001


async def test_send_get_and_cancel_a_finished_task_with_0_3_names(server: Served) -> None:
    sent = (await rpc(server, "message/send", SEND_03))["result"]
    assert sent["kind"] == "task"
    assert sent["status"]["state"] == "completed"
    assert sent["artifacts"] == [
        {
            "artifactId": f"{sent['id']}-answer",
            "name": "answer",
            "parts": [{"kind": "text", "text": "Hello from the router."}],
        }
    ]
    assert sent["history"][0]["parts"] == [{"kind": "text", "text": "Hi"}]
    assert sent["history"][0]["contextId"] == sent["contextId"]
    got = (await rpc(server, "tasks/get", {"id": sent["id"], "historyLength": 0}))["result"]
    assert got["status"]["state"] == "completed"
    assert got["history"] == []
    assert got["artifacts"] == sent["artifacts"]
    refused = await rpc(server, "tasks/cancel", {"id": sent["id"]})
    assert refused["error"] == {
        "code": -32002,
        "message": f"Task cannot be canceled: '{sent['id']}' is already completed.",
        "data": {"taskId": sent["id"], "state": "completed"},
    }


async def test_send_and_get_with_1_0_names_answer_in_1_0_shapes(server: Served) -> None:
    sent = (await rpc(server, "SendMessage", SEND_10, version="1.0"))["result"]
    task = sent["task"]
    assert "kind" not in task
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["history"][0]["role"] == "ROLE_USER"
    assert task["artifacts"][0]["parts"] == [{"text": "Hello from the router."}]
    got = (await rpc(server, "GetTask", {"id": task["id"]}, version="1.0"))["result"]
    assert got["status"]["state"] == "TASK_STATE_COMPLETED"
    listed = (await rpc(server, "ListTasks", {"contextId": task["contextId"]}, version="1.0"))["result"]
    assert [t["id"] for t in listed["tasks"]] == [task["id"]]
    assert listed["totalSize"] == 1
    assert listed["nextPageToken"] == ""


async def test_version_header_must_match_the_method(server: Served) -> None:
    answer = await rpc(server, "SendMessage", SEND_10, version="0.3")
    assert answer["error"]["code"] == -32009
    assert answer["error"]["message"] == (
        "Version not supported: method 'SendMessage' is A2A 1.0, but A2A-Version says '0.3'."
    )
    answer = await rpc(server, "message/send", SEND_03, version="2.0")
    assert answer["error"]["code"] == -32009
    answer = await rpc(server, "SendMessage", SEND_10)  # no header: the method name decides
    assert answer["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_unsupported_features_have_their_spec_codes(server: Served) -> None:
    push = await rpc(server, "tasks/pushNotificationConfig/set", {"taskId": "x"})
    assert push["error"]["code"] == -32003
    card = await rpc(server, "GetExtendedAgentCard", {}, version="1.0")
    assert card["error"]["code"] == -32007
    file_part = {"message": {**SEND_03["message"], "parts": [{"kind": "file", "file": {"uri": "https://x/y"}}]}}
    answer = await rpc(server, "message/send", file_part)
    assert answer["error"]["code"] == -32005
    assert answer["error"]["data"] == {"field": "message.parts[0]"}
    sent = (await rpc(server, "message/send", SEND_03))["result"]
    again = {"message": {**SEND_03["message"], "taskId": sent["id"]}}
    answer = await rpc(server, "message/send", again)
    assert answer["error"]["code"] == -32004
    assert sent["contextId"] in answer["error"]["message"]


async def test_context_id_must_be_a_conversation_id(server: Served) -> None:
    bad = {"message": {**SEND_03["message"], "contextId": "has spaces"}}
    answer = await rpc(server, "message/send", bad)
    assert answer["error"]["data"] == {"field": "message.contextId"}


async def test_auth_failures_are_401_problems_before_json_rpc(server: Served) -> None:
    response = await server.http.post(f"{GRAPH_PATH}/a2a", content=b"{not json", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    response = await server.http.post(
        f"{GRAPH_PATH}/a2a", json={}, headers={"Authorization": "Bearer sk_not_a_real_key"}
    )
    assert response.status_code == 401
    await _assert_healthy(server)


async def test_data_parts_reach_the_model_as_json_text(server: Served, fake_llm: FakeLLM) -> None:
    parts = [{"kind": "text", "text": "Look:"}, {"kind": "data", "data": {"order": 42}}]
    answer = await rpc(server, "message/send", {"message": {**SEND_03["message"], "parts": parts}})
    assert answer["result"]["status"]["state"] == "completed"
    assert fake_llm.requests[-1].messages[-1]["content"] == 'Look:\n\n{"order":42}'


async def test_a_chain_of_servers_past_the_hop_limit_is_refused(server: Served) -> None:
    body = {"jsonrpc": "2.0", "id": 3, "method": "message/send", "params": SEND_03}
    at_limit = await server.http.post(f"{GRAPH_PATH}/a2a", json=body, headers={"x-inkeep-a2a-hops": "5"})
    assert at_limit.json()["result"]["status"]["state"] == "completed"
    past = await server.http.post(f"{GRAPH_PATH}/a2a", json=body, headers={"x-inkeep-a2a-hops": "6"})
    error = past.json()["error"]
    assert error["code"] == -32004
    assert "A2A hop limit reached (6 hops, at most 5)" in error["message"]
    await _assert_healthy(server)
