"""RunEvents → A2A updates → 0.3 and 1.0 JSON (pure: events in, frames out)."""

from __future__ import annotations

from typing import Any

from inkeep_runtime.a2a.encoder import TaskEncoder
from inkeep_runtime.a2a.wire import StatusUpdate, Update, wire_for
from inkeep_runtime.events import (
    AgentTransferred,
    ArtifactSaved,
    DataComponent,
    DelegationReturned,
    DelegationStarted,
    Problem,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    StepStarted,
    TextDelta,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallStarted,
    Usage,
)

RUN: list[RunEvent] = [
    RunStarted(run_id="r1", conversation_id="c1", graph_id="g", agent_id="router"),
    StepStarted(agent_id="router", step=1),
    TextDelta(agent_id="router", text="Let me "),
    AgentTransferred(from_agent_id="router", to_agent_id="helper", reason="expert"),
    TextDelta(agent_id="helper", text="help."),
    DelegationStarted(from_agent_id="helper", to_agent_id="math", call_id="d1", message="2+2?"),
    ToolCallStarted(agent_id="math", call_id="t1", tool_name="add", arguments={"a": 2, "b": 2}),
    DelegationReturned(from_agent_id="helper", to_agent_id="math", call_id="d1", result="4"),
    DataComponent(agent_id="helper", id="dc1", name="Answer", props={"value": 4}),
    TextDelta(agent_id="helper", text=" It is 4."),
    Usage(input_tokens=10, output_tokens=5),
    RunCompleted(),
]


def _updates(events: list[RunEvent]) -> tuple[TaskEncoder, list[Update]]:
    encoder = TaskEncoder(task_id="t1", context_id="c1")
    return encoder, [update for event in events for update in encoder.encode(event)]


def _strip_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_times(v) for k, v in value.items() if k not in {"timestamp", "messageId"}}
    if isinstance(value, list):
        return [_strip_times(v) for v in value]
    return value


def test_text_streams_as_appended_parts_of_one_answer_artifact() -> None:
    encoder, updates = _updates(RUN)
    rendered = [_strip_times(wire_for("0.3").update(u)) for u in updates]
    kinds = [(r["kind"], r.get("status", {}).get("state")) for r in rendered]
    assert kinds == [
        ("status-update", "working"),
        ("artifact-update", None),
        ("status-update", "working"),
        ("artifact-update", None),
        ("status-update", "working"),
        ("status-update", "working"),
        ("artifact-update", None),
        ("artifact-update", None),
        ("status-update", "completed"),
    ]
    texts = [(r["artifact"]["parts"], r["append"]) for r in rendered if r["kind"] == "artifact-update"]
    assert texts == [
        ([{"kind": "text", "text": "Let me "}], False),
        ([{"kind": "text", "text": "help."}], True),
        (
            [
                {
                    "kind": "data",
                    "data": {"id": "dc1", "name": "Answer", "props": {"value": 4}},
                    "metadata": {"type": "data-component", "agentId": "helper"},
                }
            ],
            True,
        ),
        ([{"kind": "text", "text": " It is 4."}], True),
    ]
    assert encoder.artifacts() == [
        {
            "artifactId": "t1-answer",
            "name": "answer",
            "parts": [
                {"text": "Let me help."},
                {
                    "data": {"id": "dc1", "name": "Answer", "props": {"value": 4}},
                    "metadata": {"type": "data-component", "agentId": "helper"},
                },
                {"text": " It is 4."},
            ],
        }
    ]
    assert [r["final"] for r in rendered if r["kind"] == "status-update"] == [False, False, False, False, True]
    assert rendered[-1]["metadata"] == {"finishReason": "stop", "usage": {"inputTokens": 10, "outputTokens": 5}}


def test_transfers_and_delegations_are_operations_in_status_metadata() -> None:
    _, updates = _updates(RUN)
    operations = [
        u.metadata["operation"]
        for u in updates
        if isinstance(u, StatusUpdate) and u.metadata and "operation" in u.metadata
    ]
    assert [(o["type"], o["details"]["agentId"]) for o in operations] == [
        ("transfer", "router"),
        ("delegation_sent", "helper"),
        ("delegation_returned", "helper"),
    ]


def test_1_0_wraps_results_and_spells_enums_in_screaming_snake() -> None:
    _, updates = _updates(RUN)
    wire = wire_for("1.0")
    first, *_, last = [_strip_times(wire.update(u)) for u in updates]
    assert first == {
        "statusUpdate": {
            "taskId": "t1",
            "contextId": "c1",
            "status": {"state": "TASK_STATE_WORKING"},
            "metadata": {"runId": "r1", "agentId": "router"},
        }
    }
    assert last["statusUpdate"]["status"] == {"state": "TASK_STATE_COMPLETED"}
    assert "final" not in last["statusUpdate"]
    data_update = _strip_times(wire.update(updates[6]))
    assert data_update["artifactUpdate"]["artifact"]["parts"][0]["mediaType"] == "application/json"


def test_a_failed_run_ends_failed_with_the_problem_as_text_and_data() -> None:
    problem = Problem(code="llm_error", title="Bad Gateway", status=502, detail="The model provider failed.")
    _, updates = _updates([TextDelta(agent_id="a", text="Hal"), RunFailed(problem=problem)])
    final = _strip_times(wire_for("0.3").update(updates[-1]))
    assert final == {
        "kind": "status-update",
        "taskId": "t1",
        "contextId": "c1",
        "final": True,
        "status": {
            "state": "failed",
            "message": {
                "kind": "message",
                "role": "agent",
                "taskId": "t1",
                "contextId": "c1",
                "parts": [
                    {"kind": "text", "text": "The model provider failed."},
                    {
                        "kind": "data",
                        "data": {
                            "problem": {
                                "code": "llm_error",
                                "title": "Bad Gateway",
                                "status": 502,
                                "detail": "The model provider failed.",
                            }
                        },
                    },
                ],
            },
        },
    }


def test_saved_artifacts_are_artifacts_of_their_own() -> None:
    saved = ArtifactSaved(
        agent_id="a",
        artifact_id="art1",
        tool_call_id="t9",
        type="citation",
        name="Docs page",
        description="Where the answer came from.",
        summary={"url": "https://example.com"},
    )
    encoder, updates = _updates([TextDelta(agent_id="a", text="See the docs."), saved])
    assert _strip_times(wire_for("1.0").update(updates[-1])) == {
        "artifactUpdate": {
            "taskId": "t1",
            "contextId": "c1",
            "append": False,
            "artifact": {
                "artifactId": "art1",
                "name": "Docs page",
                "description": "Where the answer came from.",
                "parts": [{"data": {"url": "https://example.com"}, "mediaType": "application/json"}],
                "metadata": {"type": "citation", "toolCallId": "t9", "agentId": "a"},
            },
        }
    }
    assert [a["artifactId"] for a in encoder.artifacts()] == ["t1-answer", "art1"]


def test_tool_approvals_keep_the_task_working_and_say_what_it_waits_for() -> None:
    requested = ToolApprovalRequested(
        agent_id="a",
        call_id="c1",
        approval_id="ap1",
        tool_name="delete_order",
        tool_id="orders",
        server_tool_name="delete",
        arguments={"id": 7},
        run_id="r1",
        expires_at="2030-01-01T00:00:00.000Z",
    )
    resolved = ToolApprovalResolved(
        agent_id="a", call_id="c1", approval_id="ap1", tool_name="delete_order", decision="approved"
    )
    _, updates = _updates([requested, resolved])
    assert [(u.state, u.is_final, u.metadata) for u in updates if isinstance(u, StatusUpdate)] == [
        (
            "working",
            False,
            {
                "approval": {
                    "approvalId": "ap1",
                    "toolName": "delete_order",
                    "callId": "c1",
                    "agentId": "a",
                    "expiresAt": "2030-01-01T00:00:00.000Z",
                    "state": "requested",
                }
            },
        ),
        ("working", False, {"approval": {"approvalId": "ap1", "toolName": "delete_order", "state": "approved"}}),
    ]
