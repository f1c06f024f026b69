"""The recorder on its own: events in, rows out, with a fake clock (approvals, context fetches, failures)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inkeep_runtime.events import (
    ContextFetched,
    Problem,
    RunCompleted,
    RunEvent,
    RunFailed,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from inkeep_runtime.graph.contract import PreparedRun, RunTarget
from inkeep_runtime.observe.querylog import QueryRecorder
from inkeep_runtime.protocols.requests import RunOptions, RunRequest
from inkeep_runtime.store.query_logs import QueryRecord


def _prepared() -> PreparedRun:
    request = RunRequest(
        conversation_id="c1", user_text="hi", source="a2a", api_key_id="k1", options=RunOptions(user="u1")
    )
    return PreparedRun(
        target=RunTarget(tenant_id="t1", project_id="p1", graph_id="g"),
        request=request,
        conversation_id="c1",
        run_id="q1",
        agent_id="a",
        is_new_conversation=True,
    )


def _record(events: list[RunEvent]) -> QueryRecord:
    ticks: Iterator[int] = iter(range(1000, 100_000, 10))  # every clock reading is 10 ms later
    recorder = QueryRecorder(_prepared(), clock=lambda: next(ticks))
    for event in events:
        recorder.observe(event)
    return recorder.finish()


def _started(call_id: str, tool: str = "crm_update") -> ToolCallStarted:
    return ToolCallStarted(
        agent_id="a", call_id=call_id, tool_name=tool, arguments={}, tool_id="crm", server_tool_name="update"
    )


def _view(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[key] for key in keys) for row in rows]


def test_approvals_and_denials_set_mode_approval_and_error_type() -> None:
    record = _record(
        [
            StepStarted(agent_id="a", step=1, model="m"),
            StepFinished(agent_id="a", step=1, input_tokens=3, output_tokens=2),
            _started("c1"),
            ToolApprovalRequested(
                agent_id="a",
                call_id="c1",
                approval_id="ap1",
                tool_name="crm_update",
                tool_id="crm",
                server_tool_name="update",
                arguments={},
                run_id="q1",
                expires_at="2026-01-01T00:10:00.000Z",
            ),
            _started("c2"),
            _started("c3", "crm_delete"),
            ToolApprovalResolved(
                agent_id="a", call_id="c1", approval_id="ap1", tool_name="crm_update", decision="rejected"
            ),
            ToolCallFinished(
                agent_id="a", call_id="c1", tool_name="crm_update", output="Error: rejected", is_error=True
            ),
            ToolCallFinished(agent_id="a", call_id="c2", tool_name="crm_update", output={"ok": True}, duration_ms=7),
            ToolCallFinished(
                agent_id="a",
                call_id="c3",
                tool_name="crm_delete",
                output="Error (permission_denied): no",
                is_error=True,
                error_type="permission_denied",
            ),
            TextDelta(agent_id="a", text="Done."),
            Usage(input_tokens=3, output_tokens=2),
            RunCompleted(),
        ]
    )
    assert _view(record.tool_calls, "call_id", "permission_mode", "approval", "success", "error_type") == [
        ("c1", "require_approval", "rejected", False, "approval_rejected"),
        ("c2", "always_execute", None, True, None),
        ("c3", "disabled", None, False, "permission_denied"),
    ]
    assert _view(record.tool_calls, "started_at_ms", "latency_ms", "result_preview") == [
        (1040, 30, "Error: rejected"),  # measured by the clock when the event carries no duration
        (1050, 7, '{"ok": true}'),
        (1060, 20, "Error (permission_denied): no"),
    ]
    assert _view(record.steps, "seq", "kind", "status", "started_at_ms", "duration_ms") == [
        (1, "llm_generation", "success", 1010, 10),
        (2, "tool_call_group", "error", 1030, 60),  # one batch: from its first start to its last finish
    ]
    log = record.log
    assert (log["source"], log["api_key_id"], log["end_user_id"], log["output"]) == ("a2a", "k1", "u1", "Done.")
    assert (log["tool_calls"], log["tool_errors"], log["tool_ids"], log["started_at_ms"]) == (3, 2, ["crm"], 1000)


def test_context_fetches_are_steps_named_by_variable() -> None:
    record = _record(
        [
            ContextFetched(name="profile", trigger="initialization", cached=False, ok=True, duration_ms=4.4),
            ContextFetched(
                name="plan", trigger="invocation", cached=False, ok=False, duration_ms=2.0, error="HTTP 500"
            ),
            RunCompleted(),
        ]
    )
    assert _view(record.steps, "kind", "agent_id", "name", "status", "error_message", "duration_ms") == [
        ("context_fetch", "a", "profile", "success", None, 4),
        ("context_fetch", "a", "plan", "error", "HTTP 500", 2),
    ]


def test_a_failed_run_closes_open_steps_and_calls_with_its_error() -> None:
    record = _record(
        [
            StepStarted(agent_id="a", step=1, model="m"),
            StepFinished(agent_id="a", step=1),
            _started("c1"),
            RunFailed(problem=Problem(code="run_deadline_exceeded", title="Timeout", status=504, detail="Too slow.")),
        ]
    )
    assert (record.log["status"], record.log["error_type"], record.log["error_message"]) == (
        "error",
        "timeout",
        "Too slow.",
    )
    assert _view(record.steps, "kind", "status", "error_message") == [
        ("llm_generation", "success", None),
        ("tool_call_group", "error", "Too slow."),
    ]
    assert _view(record.tool_calls, "success", "error_type", "error_message") == [(False, "timeout", "Too slow.")]


def test_a_run_without_an_end_is_cancelled() -> None:
    record = _record([StepStarted(agent_id="a", step=1, model="m"), _started("c1")])
    assert (record.log["status"], record.log["error_type"]) == ("cancelled", None)
    assert _view(record.steps, "status") == [("cancelled",), ("cancelled",)]
    assert _view(record.tool_calls, "success", "error_type") == [(False, None)]
