"""The a2a-sdk 1.3.0 client against our server (real uvicorn, fake model): send, stream, get, cancel, continue.

Each test runs over the card's 1.0 interface and its 0.3 interface (the SDK's compat transport), on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from a2a.types.a2a_pb2 import CancelTaskRequest, GetTaskRequest, StreamResponse, SubscribeToTaskRequest, TaskState
from a2a.utils.errors import TaskNotCancelableError

from inkeep_runtime.store.conversations import ConversationStore
from inkeep_runtime.store.engine import Store
from tests.a2a.serving import Served, events_of, sdk_client, served, user_message
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.graph.harness import SCOPE

Version = Literal["1.0", "0.3"]
VERSIONS = pytest.mark.parametrize("version", ["1.0", "0.3"])
SLOW_WORDS = " ".join(f"tok{i}" for i in range(80))


@pytest.fixture
def backend() -> str:
    """The wire with the SDK is the same on both databases; tests/a2a/test_server_tasks.py covers PostgreSQL."""
    return "sqlite"


@pytest.fixture
async def server(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> AsyncIterator[Served]:
    """Graph g (router, helper) served with auth on."""
    async with served(store, tmp_path, fake_llm) as running:
        yield running


def _text(events: list[dict[str, Any]]) -> str:
    return "".join(
        part.get("text", "")
        for event in events
        if "artifactUpdate" in event
        for part in event["artifactUpdate"]["artifact"]["parts"]
    )


@VERSIONS
async def test_send_returns_the_completed_task_and_get_reads_it_back(
    server: Served, fake_llm: FakeLLM, version: Version
) -> None:
    fake_llm.add(Turn.text("Paris is the capital of France."))
    async with sdk_client(server, version=version, streaming=False) as client:
        [response] = [r async for r in client.send_message(user_message("Capital of France?"))]
        task = response.task
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert task.artifacts[0].parts[0].text == "Paris is the capital of France."
        assert task.history[0].parts[0].text == "Capital of France?"
        got = await client.get_task(GetTaskRequest(id=task.id))
    assert got.status.state == TaskState.TASK_STATE_COMPLETED
    assert got.context_id == task.context_id
    assert got.artifacts[0].parts[0].text == "Paris is the capital of France."


@VERSIONS
async def test_stream_sends_incremental_artifact_updates_then_completes(
    server: Served, fake_llm: FakeLLM, version: Version
) -> None:
    fake_llm.add(Turn.text("One two three four five six.", chunk_delay_s=0.01))
    async with sdk_client(server, version=version) as client:
        events = events_of([r async for r in client.send_message(user_message("Count"))])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "task"
    assert events[0]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert events[1]["statusUpdate"]["status"]["state"] == "TASK_STATE_WORKING"
    updates = [e["artifactUpdate"] for e in events if "artifactUpdate" in e]
    assert len(updates) == 6  # one per streamed word
    assert [u.get("append", False) for u in updates] == [False, True, True, True, True, True]
    assert _text(events) == "One two three four five six."
    assert kinds[-1] == "statusUpdate"
    assert events[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    task_id = events[0]["task"]["id"]
    assert all(e[next(iter(e))].get("taskId", task_id) == task_id for e in events)


@VERSIONS
async def test_cancel_stops_a_running_task_and_keeps_the_partial_answer(
    server: Served, store: Store, fake_llm: FakeLLM, version: Version
) -> None:
    fake_llm.add(Turn.text(SLOW_WORDS, chunk_delay_s=0.05))
    async with sdk_client(server, version=version) as client:
        seen: list[StreamResponse] = []
        async for response in client.send_message(user_message("Talk for a long time")):
            seen.append(response)
            if sum(r.HasField("artifact_update") for r in seen) >= 3:
                break
        task_id = seen[0].task.id
        canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        with anyio.fail_after(2):
            await fake_llm.requests[0].finished.wait()
        assert fake_llm.requests[0].disconnected  # the model call was cancelled, not left running
        got = await client.get_task(GetTaskRequest(id=task_id))
        with pytest.raises(TaskNotCancelableError):  # it already ended
            await client.cancel_task(CancelTaskRequest(id=task_id))
    assert got.status.state == TaskState.TASK_STATE_CANCELED
    partial = got.artifacts[0].parts[0].text
    assert partial.startswith("tok0 tok1")
    assert len(partial) < len(SLOW_WORDS)
    answers = [m for m in await ConversationStore(store).messages(SCOPE, got.context_id) if m.role == "assistant"]
    assert answers[0].is_partial
    assert answers[0].content == partial


@VERSIONS
async def test_same_context_id_continues_the_conversation(server: Served, fake_llm: FakeLLM, version: Version) -> None:
    fake_llm.add(Turn.text("Nice to meet you, Ada."), Turn.text("Your name is Ada."))
    async with sdk_client(server, version=version, streaming=False) as client:
        [first] = [r async for r in client.send_message(user_message("My name is Ada."))]
        context_id = first.task.context_id
        [second] = [r async for r in client.send_message(user_message("What is my name?", context_id=context_id))]
    assert second.task.context_id == context_id
    assert second.task.id != first.task.id
    history = [(m["role"], m["content"]) for m in fake_llm.requests[1].messages[1:]]
    assert history == [
        ("user", "My name is Ada."),
        ("assistant", "Nice to meet you, Ada."),
        ("user", "What is my name?"),
    ]


@VERSIONS
async def test_a_task_outlives_its_client_and_resubscribe_reattaches(
    server: Served, fake_llm: FakeLLM, version: Version
) -> None:
    words = " ".join(f"w{i}" for i in range(30))
    fake_llm.add(Turn.text(words, chunk_delay_s=0.02))
    async with sdk_client(server, version=version) as client:
        async for response in client.send_message(user_message("Go")):
            if response.HasField("task"):
                task_id = response.task.id
            if response.HasField("artifact_update"):
                break  # the client goes away mid-stream; the task must run on
        events = events_of([r async for r in client.subscribe(SubscribeToTaskRequest(id=task_id))])
        got = await client.get_task(GetTaskRequest(id=task_id))
    assert events[0]["task"]["id"] == task_id
    assert events[0]["task"]["status"]["state"] == "TASK_STATE_WORKING"
    assert events[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert got.status.state == TaskState.TASK_STATE_COMPLETED
    assert got.artifacts[0].parts[0].text == words
    assert not fake_llm.requests[0].disconnected


@VERSIONS
async def test_a_failed_run_fails_the_task_with_the_problem(
    server: Served, fake_llm: FakeLLM, version: Version
) -> None:
    fake_llm.add(Turn.error(400, "The prompt is not acceptable."))
    async with sdk_client(server, version=version) as client:
        events = events_of([r async for r in client.send_message(user_message("Break"))])
    final = events[-1]["statusUpdate"]["status"]
    assert final["state"] == "TASK_STATE_FAILED"
    text, data = final["message"]["parts"]
    assert "The prompt is not acceptable." in text["text"]
    assert data["data"]["problem"]["status"] in {400, 502}


async def test_agent_endpoint_makes_that_agent_answer_first(server: Served, fake_llm: FakeLLM) -> None:
    fake_llm.add(Turn.text("Helper here."))
    async with sdk_client(server, streaming=False, path="/tenants/t1/projects/p1/agents/g/helper") as client:
        [response] = [r async for r in client.send_message(user_message("Who are you?"))]
    assert response.task.artifacts[0].parts[0].text == "Helper here."
    assert "You are helper." in fake_llm.requests[0].messages[0]["content"]
