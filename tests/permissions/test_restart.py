"""A pending approval outlives the process whose stream waited for it (two app instances on one database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.approvals import ApprovalStore, NewApproval
from inkeep_runtime.store.conversations import ConversationStore, NewMessage
from inkeep_runtime.store.engine import Store
from tests.conftest import running_lifespan
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import SCOPE
from tests.permissions.helpers import APPROVALS, CRUD, RUN, api_key, ops_graph, permit

SETTINGS = replace(Settings(), approval_poll_s=0.1)
UI_BODY = {
    "id": "chat-restart",
    "trigger": "submit-message",
    "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Echo deploy now"}]}],
}


def _tool_calls(fake_mcp: FakeMcpServer) -> int:
    return sum(m == "tools/call" for r in fake_mcp.recorder.requests for m in r.rpc_methods)


@pytest.fixture
async def graph(store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer) -> None:
    """Agent `ops` whose `echo` needs approval."""
    await ops_graph(store, tmp_path, fake_llm, fake_mcp)
    await permit(store, "echo", "require_approval")


@asynccontextmanager
async def _second_instance(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS, store=store)
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=20) as http:
            yield http


async def _pause_then_stop(store: Store) -> str:
    """Run a chat on instance A until it asks for approval, then shut A down; return an API key."""
    paused = anyio.Event()
    key = ""

    async def read(http: httpx.AsyncClient) -> None:
        try:
            headers = {"Authorization": f"Bearer {key}"}
            async with http.stream("POST", f"{RUN}/api/chat", json=UI_BODY, headers=headers) as response:
                async for line in response.aiter_lines():
                    if "tool-approval-request" in line:
                        paused.set()
        except httpx.HTTPError:
            pass  # the server went away mid-stream, as intended

    async with anyio.create_task_group() as group:
        async with serve(create_app(SETTINGS, store=store), grace_s=0.1) as base:
            http = httpx.AsyncClient(base_url=base, timeout=20)
            key = await api_key(http)
            group.start_soon(read, http)
            with anyio.fail_after(15):
                await paused.wait()
        await http.aclose()
    return key


async def _await_orphaned(http: httpx.AsyncClient) -> dict[str, object]:
    """The pending approval once no run waits for it any more (its lease was released or lapsed)."""
    with anyio.fail_after(5):
        while True:
            listed = (await http.get(f"{CRUD}/tool-approvals", params={"status": "pending"})).json()["data"]
            if listed and not listed[0]["runWaiting"]:
                return dict(listed[0])
            await anyio.sleep(0.05)


async def test_approving_after_a_restart_runs_the_call_and_the_next_turn_sees_it(
    store: Store, graph: None, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    fake_llm.add(Turn.tool_calls([("call_rs", "echo", {"text": "deploy v2"})]))
    key = await _pause_then_stop(store)
    assert _tool_calls(fake_mcp) == 0
    async with _second_instance(store) as http:
        pending = await _await_orphaned(http)
        assert (pending["toolCallId"], pending["conversationId"]) == ("call_rs", "chat-restart")
        headers = {"Authorization": f"Bearer {key}"}
        decided = await http.post(f"{APPROVALS}/call_rs", json={"decision": "approve"}, headers=headers)
        assert decided.status_code == 200, decided.text
        assert (decided.json()["data"]["status"], decided.json()["data"]["resumedBy"]) == ("approved", "detached")
        assert _tool_calls(fake_mcp) == 1
        messages = await ConversationStore(store).messages(SCOPE, "chat-restart")
        note = next(m for m in messages if m.message_type == "approved-tool-result")
        assert "deploy v2" in note.content
        assert (note.role, note.visibility, note.agent_id) == ("assistant", "user", "ops")
        fake_llm.add(Turn.text("The deployment echo already ran."))
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": "Did it run?"}],
            "conversationId": "chat-restart",
        }
        answer = await http.post(f"{RUN}/v1/chat/completions", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        again = await http.post(f"{APPROVALS}/call_rs", json={"decision": "approve"}, headers=headers)
        assert again.status_code == 409
    seen = [m["content"] for m in fake_llm.requests[-1].messages]
    assert any("deploy v2" in str(content) for content in seen)
    assert _tool_calls(fake_mcp) == 1  # carried out exactly once


async def test_rejecting_after_a_restart_runs_nothing(
    store: Store, graph: None, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    fake_llm.add(Turn.tool_calls([("call_rs", "echo", {"text": "deploy v3"})]))
    key = await _pause_then_stop(store)
    async with _second_instance(store) as http:
        await _await_orphaned(http)
        headers = {"Authorization": f"Bearer {key}"}
        decided = await http.post(f"{APPROVALS}/call_rs", json={"decision": "reject"}, headers=headers)
        assert decided.json()["data"]["status"] == "rejected"
    assert _tool_calls(fake_mcp) == 0


async def _orphan(store: Store, *, lease_s: float, expires_s: float) -> None:
    """A pending approval left behind by a process that crashed (it never released its lease)."""
    now = datetime.now(UTC)

    def iso(seconds: float) -> str:
        return (now + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    await ConversationStore(store).create(
        SCOPE, conversation_id="c-crash", graph_id="g", agent_id="ops", messages=[NewMessage(role="user", content="hi")]
    )
    approval = NewApproval(
        id="ap-crash",
        tool_call_id="call_crash",
        run_id="run-crash",
        graph_id="g",
        conversation_id="c-crash",
        agent_id="ops",
        tool_id="tools",
        tool_name="echo",
        arguments={"text": "after the crash"},
        expires_at=iso(expires_s),
        owner_id="crashed-process",
        lease_until=iso(lease_s),
    )
    await ApprovalStore(store).create(SCOPE, [approval])


async def test_a_crashed_owner_is_noticed_when_its_lease_lapses(
    store: Store, graph: None, fake_mcp: FakeMcpServer
) -> None:
    lease_until = datetime.now(UTC) + timedelta(seconds=1.0)  # no later than the row's lease
    await _orphan(store, lease_s=1.0, expires_s=60)
    async with _second_instance(store) as http:
        headers = {"Authorization": f"Bearer {await api_key(http)}"}
        decided = await http.post(f"{APPROVALS}/call_crash", json={"decision": "approve"}, headers=headers)
        assert decided.json()["data"]["resumedBy"] == "detached"
        assert datetime.now(UTC) >= lease_until  # it ran only once the crashed owner's lease had lapsed
    assert _tool_calls(fake_mcp) == 1


async def test_approvals_that_expired_while_down_are_expired_at_start_up(store: Store, graph: None) -> None:
    await _orphan(store, lease_s=-10, expires_s=-1)
    async with _second_instance(store) as http:
        headers = {"Authorization": f"Bearer {await api_key(http)}"}
        record = await ApprovalStore(store).get(SCOPE, "ap-crash")
        assert record is not None
        assert record.status == "expired"
        late = await http.post(f"{APPROVALS}/call_crash", json={"decision": "approve"}, headers=headers)
        assert late.status_code == 409
        assert late.json()["approvalStatus"] == "expired"
