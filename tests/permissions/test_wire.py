"""Approval events on the wire, pure: events in, frames out (the AI SDK's own parser checks the UI stream)."""

from __future__ import annotations

import json

import pytest

from inkeep_runtime.agent.approvals import Decision
from inkeep_runtime.events import (
    RunCompleted,
    RunEvent,
    RunStarted,
    StepFinished,
    StepStarted,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallFinished,
    ToolCallStarted,
)
from inkeep_runtime.protocols.base import sse_text
from inkeep_runtime.protocols.openai_sse import OpenAIStreamAdapter
from inkeep_runtime.protocols.vercel_stream import UIMessageStreamAdapter
from tests.http.test_api_chat import needs_ai, parse_with_ai_sdk


@pytest.fixture
def backend() -> str:
    """No database involved."""
    return "sqlite"


def _run(decision: Decision) -> list[RunEvent]:
    request = ToolApprovalRequested(
        agent_id="ops",
        call_id="c1",
        approval_id="ap1",
        tool_name="echo",
        tool_id="tools",
        server_tool_name="echo",
        arguments={"text": "hi"},
        run_id="r1",
        expires_at="2030-01-01T00:00:00.000Z",
    )
    output = "hi" if decision == "approved" else "Error (approval_rejected): no"
    return [
        RunStarted(run_id="r1", conversation_id="conv", graph_id="g", agent_id="ops"),
        StepStarted(agent_id="ops", step=1),
        StepFinished(agent_id="ops", step=1),
        ToolCallStarted(agent_id="ops", call_id="c1", tool_name="echo", arguments={"text": "hi"}),
        request,
        ToolApprovalResolved(
            agent_id="ops",
            call_id="c1",
            approval_id="ap1",
            tool_name="echo",
            decision=decision,
            reason="why",
        ),
        ToolCallFinished(
            agent_id="ops", call_id="c1", tool_name="echo", output=output, is_error=decision != "approved"
        ),
        RunCompleted(),
    ]


def _ui(events: list[RunEvent]) -> list[dict[str, object]]:
    adapter = UIMessageStreamAdapter(message_id="m1")
    return [json.loads(f) for e in events for f in adapter.encode(e) if f != "[DONE]"]


def test_ui_stream_approval_request_follows_the_tool_input() -> None:
    types = [f["type"] for f in _ui(_run("approved"))]
    assert types[types.index("tool-input-start") :][:5] == [
        "tool-input-start",
        "tool-input-available",
        "tool-approval-request",
        "data-operation",
        "tool-output-available",
    ]


def test_ui_stream_rejection_is_denied_and_the_error_output_is_not_sent() -> None:
    frames = _ui(_run("rejected"))
    types = [f["type"] for f in frames]
    assert "tool-output-denied" in types
    assert "tool-output-error" not in types
    operation = next(f for f in frames if f["type"] == "data-operation")
    assert operation["data"]["details"]["data"] == {  # type: ignore[index]
        "toolCallId": "c1",
        "approvalId": "ap1",
        "toolName": "echo",
        "decision": "rejected",
        "reason": "why",
    }


@needs_ai
@pytest.mark.parametrize("decision", ["approved", "rejected", "expired"])
async def test_the_ai_sdk_accepts_every_outcome(decision: Decision) -> None:
    adapter = UIMessageStreamAdapter(message_id="m1")
    body = sse_text([f for e in _run(decision) for f in adapter.encode(e)])
    parsed = await parse_with_ai_sdk(body)
    part = next(p for p in parsed["message"]["parts"] if p["type"] == "dynamic-tool")
    assert part["state"] == ("output-available" if decision == "approved" else "output-denied")
    assert part["approval"]["id"] == "ap1"


def test_openai_operations_only_when_asked() -> None:
    plain = OpenAIStreamAdapter(model="m", completion_id="x", created=0)
    assert "approval" not in "".join(f for e in _run("approved") for f in plain.encode(e))
    verbose = OpenAIStreamAdapter(model="m", completion_id="x", created=0, emit_operations=True)
    text = "".join(f for e in _run("approved") for f in verbose.encode(e))
    assert "approval_requested" in text
    assert "approval_resolved" in text
