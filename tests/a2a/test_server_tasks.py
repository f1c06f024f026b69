"""A2A tasks live in the database: across server instances (processes sharing a database) and restarts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.a2a import tasks as tasks_module
from inkeep_runtime.a2a.tasks import LiveTask, TaskManager, new_record
from inkeep_runtime.events import TextDelta
from inkeep_runtime.graph.contract import PreparedRun, RunTarget
from inkeep_runtime.protocols.requests import RunRequest
from inkeep_runtime.store.a2a_tasks import A2ATaskStore
from inkeep_runtime.store.engine import Store
from tests.a2a.serving import GRAPH_PATH, Served, rpc, served
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.graph.harness import SCOPE, agent, graph_doc, push

SLOW = " ".join(f"s{i}" for i in range(100))
_USER = {"messageId": "m0", "role": "user", "parts": [{"text": "x"}]}


def _send(text: str, **configuration: Any) -> dict[str, Any]:
    message = {"kind": "message", "messageId": f"m-{text}", "role": "user", "parts": [{"kind": "text", "text": text}]}
    return {"message": message, "configuration": configuration}


@asynccontextmanager
async def _second_instance(store: Store, key: str) -> AsyncIterator[Served]:
    """Another server on the same database (what a second process is to the first)."""
    app = create_app(Settings(), store=store)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        http.headers["Authorization"] = f"Bearer {key}"
        yield Served(base=base, key=key, http=http)


async def _wait_for_state(server: Served, task_id: str, state: str) -> dict[str, Any]:
    with anyio.fail_after(5):
        while True:
            task: dict[str, Any] = (await rpc(server, "tasks/get", {"id": task_id}))["result"]
            if task["status"]["state"] == state:
                return task
            await anyio.sleep(0.05)


async def test_non_blocking_send_returns_at_once_and_the_task_finishes_on_its_own(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    fake_llm.add(Turn.text("Done in the background.", delay_s=1.0))
    async with served(store, tmp_path, fake_llm) as server:
        task = (await rpc(server, "message/send", _send("work", blocking=False)))["result"]
        assert task["status"]["state"] in {"submitted", "working"}  # the model has not even answered yet
        done = await _wait_for_state(server, task["id"], "completed")
        one_oh = (await rpc(server, "SendMessage", _send("again", returnImmediately=True)))["result"]["task"]
    assert done["artifacts"][0]["parts"] == [{"kind": "text", "text": "Done in the background."}]
    assert one_oh["status"]["state"] in {"TASK_STATE_SUBMITTED", "TASK_STATE_WORKING"}


async def test_another_instance_reads_and_cancels_a_running_task(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TaskManager, "cancel_poll_s", 0.05)
    fake_llm.add(Turn.text(SLOW, chunk_delay_s=0.05))
    async with served(store, tmp_path, fake_llm) as first, _second_instance(store, first.key) as second:
        task = (await rpc(first, "message/send", _send("long", blocking=False)))["result"]
        seen = await _wait_for_state(second, task["id"], "working")  # stored as soon as the run starts
        assert seen["artifacts"] == []  # progress stays in the running process
        canceled = (await rpc(second, "tasks/cancel", {"id": task["id"]}))["result"]
        assert canceled["status"]["state"] == "canceled"
        with anyio.fail_after(2):
            await fake_llm.requests[0].finished.wait()
        assert fake_llm.requests[0].disconnected
        on_first = (await rpc(first, "tasks/get", {"id": task["id"]}))["result"]
    assert on_first["status"]["state"] == "canceled"
    partial = on_first["artifacts"][0]["parts"][0]["text"]
    assert partial.startswith("s0")  # the answer so far is kept, however far the model got
    assert SLOW.startswith(partial)
    assert len(partial) < len(SLOW)


async def test_resubscribe_on_another_instance_follows_the_task_to_its_end(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    fake_llm.add(Turn.text("Slow but steady wins.", chunk_delay_s=0.1))
    async with served(store, tmp_path, fake_llm) as first, _second_instance(store, first.key) as second:
        task = (await rpc(first, "message/send", _send("go", blocking=False)))["result"]
        await _wait_for_state(second, task["id"], "working")
        body = {"jsonrpc": "2.0", "id": 5, "method": "tasks/resubscribe", "params": {"id": task["id"]}}
        async with second.http.stream("POST", f"{GRAPH_PATH}/a2a", json=body) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = [json.loads(line[6:]) for line in [line async for line in response.aiter_lines()] if line]
    results = [event["result"] for event in events]
    assert all(event["id"] == 5 for event in events)
    assert results[0]["kind"] == "task"
    assert results[-2]["kind"] == "artifact-update"
    assert results[-2]["artifact"]["parts"] == [{"kind": "text", "text": "Slow but steady wins."}]
    assert results[-1]["kind"] == "status-update"
    assert results[-1]["status"]["state"] == "completed"
    assert results[-1]["final"] is True


async def test_tasks_survive_a_restart_and_shutdown_fails_running_ones(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    fake_llm.add(Turn.text("Finished answer."), Turn.text(SLOW, chunk_delay_s=0.05))
    async with served(store, tmp_path, fake_llm) as server:
        finished = (await rpc(server, "message/send", _send("first")))["result"]
        running = (await rpc(server, "message/send", _send("second", blocking=False)))["result"]
        await _wait_for_state(server, running["id"], "working")
        key = server.key
    async with _second_instance(store, key) as restarted:
        again = (await rpc(restarted, "tasks/get", {"id": finished["id"]}))["result"]
        interrupted = (await rpc(restarted, "tasks/get", {"id": running["id"]}))["result"]
    assert again["status"]["state"] == "completed"
    assert again["artifacts"] == finished["artifacts"]
    assert interrupted["status"]["state"] == "failed"
    assert interrupted["status"]["message"]["parts"][0]["text"] == "The server shut down before the task finished."


async def test_a_task_left_working_by_a_dead_process_reads_as_failed(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    fake_llm.add(Turn.text("Fine."))
    async with served(store, tmp_path, fake_llm) as server:
        done = (await rpc(server, "message/send", _send("first")))["result"]
        orphan = replace(
            new_record(task_id="orphan1", graph_id="g", agent_id=None, prepared=_prepared(done), message=_USER),
            state="working",
            created_at="2020-01-01T00:00:00.000Z",
            updated_at="2020-01-01T00:00:00.000Z",
        )
        await A2ATaskStore(store).create(SCOPE, orphan)
        got = (await rpc(server, "tasks/get", {"id": "orphan1"}))["result"]
        refused = await rpc(server, "tasks/cancel", {"id": "orphan1"})
    assert got["status"]["state"] == "failed"
    assert got["status"]["message"]["parts"] == [
        {"kind": "text", "text": "The server process running this task stopped before it finished."}
    ]
    assert refused["error"]["code"] == -32002


async def test_list_tasks_pages_through_a_contexts_tasks_newest_first(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    fake_llm.responder = lambda _request: Turn.text("Noted.")
    async with served(store, tmp_path, fake_llm) as server:
        first = (await rpc(server, "message/send", _send("one")))["result"]
        context = first["contextId"]
        for text in ("two", "three"):
            message = {**_send(text)["message"], "contextId": context}
            await rpc(server, "message/send", {"message": message})
        await rpc(server, "message/send", _send("elsewhere"))
        page = (await rpc(server, "ListTasks", {"contextId": context, "pageSize": 2}, version="1.0"))["result"]
        rest = (
            await rpc(
                server,
                "ListTasks",
                {"contextId": context, "pageSize": 2, "pageToken": page["nextPageToken"], "historyLength": 1},
                version="1.0",
            )
        )["result"]
        done = (await rpc(server, "ListTasks", {"status": "TASK_STATE_COMPLETED"}, version="1.0"))["result"]
    assert page["totalSize"] == 3
    assert len(page["tasks"]) == 2
    assert page["tasks"][0]["history"] == []  # no history unless asked for
    assert page["tasks"][0]["artifacts"] == []  # nor artifacts
    assert [t["id"] for t in rest["tasks"]] == [first["id"]]
    assert rest["tasks"][0]["history"][0]["parts"] == [{"text": "one"}]
    assert rest["nextPageToken"] == ""
    assert done["totalSize"] == 4


def _prepared(task: dict[str, Any]) -> PreparedRun:
    target = RunTarget(tenant_id="t1", project_id="p1", graph_id="g")
    request = RunRequest(conversation_id=task["contextId"], user_text="x")
    return PreparedRun(
        target=target,
        request=request,
        conversation_id=task["contextId"],
        run_id="r-orphan",
        agent_id="router",
        is_new_conversation=False,
    )


async def test_a_context_of_another_graph_is_refused_naming_context_id(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    fake_llm.responder = lambda _request: Turn.text("Hi.")
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("other")], id="g2"))
    async with served(store, tmp_path, fake_llm, settings=Settings(dev=True)) as server:
        task = (await rpc(server, "message/send", _send("hello")))["result"]
        message = {**_send("again")["message"], "contextId": task["contextId"]}
        body = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": message}}
        answer = (await server.http.post("/tenants/t1/projects/p1/agents/g2/a2a", json=body)).json()
    assert answer["error"] == {
        "code": -32602,
        "message": f"Invalid params: Conversation '{task['contextId']}' does not exist in graph 'g2'.",
        "data": {"field": "message.contextId"},
    }


async def test_a_subscriber_that_falls_behind_is_dropped_without_stalling_the_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks_module, "_BUFFER", 2)
    record = new_record(
        task_id="t1", graph_id="g", agent_id=None, prepared=_prepared({"contextId": "c1"}), message=_USER
    )
    live = LiveTask(scope=SCOPE, record=record)
    _, slow = live.subscribe()
    _, fast = live.subscribe()
    updates = [live.encoder.encode(TextDelta(agent_id="a", text=f"w{i} "))[0] for i in range(3)]
    async with fast:
        for update in updates:
            live.publish([update])
            assert await fast.receive() == update  # a reader that keeps up gets everything
    async with slow:
        assert [await slow.receive() for _ in range(2)] == updates[:2]
        with pytest.raises(anyio.EndOfStream):  # dropped when its buffer overflowed on the third
            await slow.receive()
    assert live.encoder.artifacts()[0]["parts"] == [{"text": "w0 w1 w2 "}]
