"""The query-log recorder: turns one run's events into a query row, its steps and its tool calls.

A `QueryRecorder` watches a run from the side. It is fed every event the run's stream yields
(`observe`) and every event a delegated agent produces out of sight (`observe_delegated`, through
`PreparedRun.observer`), and when the run is over `finish` builds one `QueryRecord`. It never
awaits, never raises into the run, and does O(1) work per event (a text delta costs an append until
the output preview is full), because it sits on the token path.

What becomes a step (caylex.md §4, `query_steps.kind`), in the order the events arrive:

* `llm_generation`: `StepStarted` → `StepFinished`, with the model and that call's tokens. A model call
  still open when the run fails is closed with the run's error; when the client went away, `cancelled`.
* `tool_call_group`: the MCP tool calls one agent announced together (one model step asks for a batch;
  `ToolCallStarted`s arrive before any `ToolCallFinished`). It spans the first start to the last finish
  and is `error` when any call failed. Each call is a `tool_calls` row pointing at its group.
* `transfer` (`AgentTransferred`), `delegation` (`DelegationStarted` → `DelegationReturned`, spanning the
  delegated agent's work) and `delegation_return` (the moment the answer comes back; its agent is the
  delegated one, its target the delegator).
* `context_fetch` (`ContextFetched`): one per context variable resolved for the turn (`name` is its key).

Tool approvals (`ToolApprovalRequested` / `ToolApprovalResolved`) set a call's `permissionMode`
(`require_approval`) and `approval`; a call refused with `permission_denied` is recorded with mode
`disabled`. Arguments are stored only with `Settings.query_log_capture_arguments`, redacted by
`secrets.redact` and truncated; results and texts are truncated previews.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from inkeep_runtime.events import (
    AgentTransferred,
    ContextFetched,
    DelegationReturned,
    DelegationStarted,
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
)
from inkeep_runtime.graph.contract import PreparedRun
from inkeep_runtime.ids import new_id
from inkeep_runtime.observe.record_values import (
    MAX_PREVIEW_CHARS,
    MAX_TEXT_CHARS,
    captured_arguments,
    current_span_ids,
    epoch_ms,
    preview,
    truncate,
    usage_of,
)
from inkeep_runtime.observe.taxonomy import error_type_of_code
from inkeep_runtime.store.query_logs import QueryRecord

__all__ = ["QueryRecorder"]

_CANCELLED: Final = "The run was cancelled (the client went away) before this finished."


@dataclass(slots=True)
class _Group:
    step: dict[str, Any]
    open_calls: int = 0
    accepting: bool = True
    """More calls of the same batch may still be announced."""


@dataclass(slots=True)
class _Ids:
    """Where each open thing lives, keyed by agent (call ids are unique per agent turn only)."""

    llm: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, _Group] = field(default_factory=dict)
    calls: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    call_groups: dict[tuple[str, str], _Group] = field(default_factory=dict)
    delegations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    approvals: dict[tuple[str, str], str | None] = field(default_factory=dict)


class QueryRecorder:
    """Builds the query-log record of one run from its events (see the module docstring)."""

    def __init__(
        self, prepared: PreparedRun, *, capture_arguments: bool = False, clock: Callable[[], int] = epoch_ms
    ) -> None:
        self._prepared = prepared
        self._capture_arguments = capture_arguments
        self._clock = clock
        self._started_ms = clock()
        self._final_agent_id = prepared.agent_id
        self._output: list[str] = []
        self._output_chars = 0
        self._steps: list[dict[str, Any]] = []
        self._calls: list[dict[str, Any]] = []
        self._open = _Ids()
        self._outcome: RunCompleted | RunFailed | None = None
        self._trace_id, self._span_id = current_span_ids()

    @property
    def is_over(self) -> bool:
        """Whether the run reported its end (`RunCompleted` or `RunFailed`)."""
        return self._outcome is not None

    def observe(self, event: RunEvent) -> None:
        """Take one event the run's stream yielded."""
        if type(event) is TextDelta:  # the hot path first
            if self._output_chars < MAX_TEXT_CHARS:
                self._output.append(event.text)
                self._output_chars += len(event.text)
            return
        if isinstance(event, RunCompleted | RunFailed):
            self._outcome = event
            return
        if isinstance(event, AgentTransferred):
            self._final_agent_id = event.to_agent_id
        self.observe_delegated(event)

    def observe_delegated(self, event: RunEvent) -> None:
        """Take one event of the run that is not streamed to the client (a delegated agent's)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    # --- steps ------------------------------------------------------------------------------------------------

    def _step(self, kind: str, agent_id: str, **values: Any) -> dict[str, Any]:
        now = self._clock()
        step: dict[str, Any] = {
            "id": new_id(),
            "seq": len(self._steps) + 1,
            "kind": kind,
            "agent_id": agent_id,
            "target_agent_id": None,
            "model": None,
            "name": None,
            "input_tokens": None,
            "output_tokens": None,
            "started_at_ms": now,
            "duration_ms": 0,
            "status": "success",
            "error_message": None,
            **values,
        }
        self._steps.append(step)
        return step

    def _end(self, step: dict[str, Any]) -> None:
        step["duration_ms"] = max(0, self._clock() - step["started_at_ms"])

    def _step_started(self, event: StepStarted) -> None:
        self._stop_accepting(event.agent_id)
        step = self._step("llm_generation", event.agent_id, model=event.model or None)
        self._open.llm.setdefault(event.agent_id, []).append(step)

    def _step_finished(self, event: StepFinished) -> None:
        stack = self._open.llm.get(event.agent_id)
        if not stack:
            return
        step = stack.pop()
        self._end(step)
        step["input_tokens"] = event.input_tokens
        step["output_tokens"] = event.output_tokens

    def _stop_accepting(self, agent_id: str) -> None:
        group = self._open.groups.get(agent_id)
        if group is not None:
            group.accepting = False

    def _tool_started(self, event: ToolCallStarted) -> None:
        group = self._open.groups.get(event.agent_id)
        if group is None or not group.accepting:
            group = _Group(self._step("tool_call_group", event.agent_id))
            self._open.groups[event.agent_id] = group
        group.open_calls += 1
        key = (event.agent_id, event.call_id)
        call: dict[str, Any] = {
            "id": new_id(),
            "call_id": event.call_id,
            "step_id": group.step["id"],
            "agent_id": event.agent_id,
            "tool_id": event.tool_id,
            "tool_server_name": event.tool_server_name or None,
            "tool_name": event.server_tool_name or event.tool_name,
            "arguments": captured_arguments(event.arguments) if self._capture_arguments else None,
            "result_preview": None,
            "permission_mode": "always_execute",
            "approval": None,
            "started_at_ms": self._clock(),
            "latency_ms": 0,
            "success": False,
            "error_type": None,
            "error_message": None,
        }
        if key in self._open.approvals:  # the approval was asked for before the call was announced
            call["permission_mode"] = "require_approval"
            call["approval"] = self._open.approvals[key]
        self._calls.append(call)
        self._open.calls[key] = call
        self._open.call_groups[key] = group

    def _tool_finished(self, event: ToolCallFinished) -> None:
        key = (event.agent_id, event.call_id)
        call = self._open.calls.pop(key, None)
        group = self._open.call_groups.pop(key, None)
        if call is None or group is None:
            return
        group.accepting = False
        measured = event.duration_ms  # the batch's results arrive together: the call's own time is truer
        call["latency_ms"] = measured if measured is not None else max(0, self._clock() - call["started_at_ms"])
        call["success"] = not event.is_error
        call["result_preview"] = preview(event.output)
        if event.is_error:
            call["error_type"] = event.error_type or _approval_error(call["approval"]) or "tool_error"
            call["error_message"] = truncate(str(event.output), MAX_PREVIEW_CHARS)
            group.step["status"] = "error"
            if group.step.get("error_message") is None:  # the group names its first failing call
                group.step["error_message"] = f"{call['tool_name']}: {call['error_message']}"
            if call["error_type"] == "permission_denied":
                call["permission_mode"] = "disabled"
        group.open_calls -= 1
        if group.open_calls == 0:
            self._end(group.step)

    def _approval_requested(self, event: ToolApprovalRequested) -> None:
        key = (event.agent_id, event.call_id)
        self._open.approvals[key] = None
        if (call := self._open.calls.get(key)) is not None:
            call["permission_mode"] = "require_approval"

    def _approval_resolved(self, event: ToolApprovalResolved) -> None:
        key = (event.agent_id, event.call_id)
        self._open.approvals[key] = event.decision
        if (call := self._open.calls.get(key)) is not None:
            call["permission_mode"] = "require_approval"
            call["approval"] = event.decision

    def _transferred(self, event: AgentTransferred) -> None:
        self._stop_accepting(event.from_agent_id)
        self._step("transfer", event.from_agent_id, target_agent_id=event.to_agent_id)

    def _delegation_started(self, event: DelegationStarted) -> None:
        step = self._step("delegation", event.from_agent_id, target_agent_id=event.to_agent_id)
        self._open.delegations[(event.from_agent_id, event.call_id)] = step

    def _delegation_returned(self, event: DelegationReturned) -> None:
        self._stop_accepting(event.from_agent_id)
        step = self._open.delegations.pop((event.from_agent_id, event.call_id), None)
        status = "error" if event.is_error else "success"
        message = truncate(event.result, MAX_PREVIEW_CHARS) if event.is_error else None
        if step is not None:
            self._end(step)
            step.update(status=status, error_message=message)
        self._step(
            "delegation_return",
            event.to_agent_id,
            target_agent_id=event.from_agent_id,
            status=status,
            error_message=message,
        )

    def _context_fetched(self, event: ContextFetched) -> None:
        """A context variable resolved before the agents ran (its step spans the fetch, ending now)."""
        step = self._step("context_fetch", self._final_agent_id, name=event.name)
        step["duration_ms"] = max(0, round(event.duration_ms))
        step["started_at_ms"] = max(self._started_ms, step["started_at_ms"] - step["duration_ms"])
        if not event.ok:
            message = event.error or "The fetch failed; the variable's default value was used."
            step.update(status="error", error_message=truncate(message, MAX_PREVIEW_CHARS))

    # --- the record -------------------------------------------------------------------------------------------

    def finish(self) -> QueryRecord:
        """The record of the run as it stands (a run that reported no end was cancelled)."""
        outcome = self._outcome
        status = "success" if isinstance(outcome, RunCompleted) else "error" if outcome is not None else "cancelled"
        error_type = error_type_of_code(outcome.problem.code) if isinstance(outcome, RunFailed) else None
        error_message = truncate(outcome.problem.detail, MAX_PREVIEW_CHARS) if isinstance(outcome, RunFailed) else None
        self._close_open(status, error_type, error_message)
        prepared = self._prepared
        graph_id = prepared.target.graph_id
        llm = [s for s in self._steps if s["kind"] == "llm_generation"]
        tool_ids = list(dict.fromkeys(c["tool_id"] for c in self._calls))
        log: dict[str, Any] = {
            "id": prepared.run_id,
            "graph_id": graph_id,
            "conversation_id": prepared.conversation_id,
            "source": prepared.request.source,
            "entry_agent_id": prepared.agent_id,
            "final_agent_id": self._final_agent_id,
            "input": truncate(prepared.request.user_text, MAX_TEXT_CHARS),
            "output": truncate("".join(self._output), MAX_TEXT_CHARS),
            "status": status,
            "error_type": error_type,
            "error_message": error_message,
            "started_at_ms": self._started_ms,
            "duration_ms": max(0, self._clock() - self._started_ms),
            "llm_calls": len(llm),
            "input_tokens": sum(s["input_tokens"] or 0 for s in llm),
            "output_tokens": sum(s["output_tokens"] or 0 for s in llm),
            "tool_calls": len(self._calls),
            "tool_errors": sum(not c["success"] for c in self._calls),
            "transfers": sum(s["kind"] == "transfer" for s in self._steps),
            "delegations": sum(s["kind"] == "delegation" for s in self._steps),
            "tool_ids": tool_ids,
            "usage": usage_of(llm),
            "api_key_id": prepared.request.api_key_id,
            "end_user_id": prepared.request.options.user,
            "trace_id": self._trace_id,
            "span_id": self._span_id,
        }
        common = {"tenant_id": prepared.target.tenant_id, "project_id": prepared.target.project_id}
        query = {**common, "query_id": prepared.run_id, "graph_id": graph_id}
        return QueryRecord(
            log={**common, **log},
            steps=[{**query, **step} for step in self._steps],
            tool_calls=[{**query, **call} for call in self._calls],
        )

    def _close_open(self, status: str, error_type: str | None, error_message: str | None) -> None:
        """End whatever the run left open: `cancelled`, or failed with the run's error."""
        step_status = "cancelled" if status == "cancelled" else "error"
        message = _CANCELLED if status == "cancelled" else error_message
        open_steps = [s for stack in self._open.llm.values() for s in stack]
        open_steps += list(self._open.delegations.values())
        open_steps += [g.step for g in self._open.groups.values() if g.open_calls > 0]
        for step in open_steps:
            self._end(step)
            step.update(status=step_status, error_message=message)
        for call in self._open.calls.values():
            call["latency_ms"] = max(0, self._clock() - call["started_at_ms"])
            call.update(success=False, error_type=error_type, error_message=message)
        self._open = _Ids()


def _approval_error(approval: str | None) -> str | None:
    return "approval_rejected" if approval in {"rejected", "expired"} else None


_HANDLERS: Final[dict[type[Any], Callable[[QueryRecorder, Any], None]]] = {
    StepStarted: QueryRecorder._step_started,
    StepFinished: QueryRecorder._step_finished,
    ToolCallStarted: QueryRecorder._tool_started,
    ToolCallFinished: QueryRecorder._tool_finished,
    ToolApprovalRequested: QueryRecorder._approval_requested,
    ToolApprovalResolved: QueryRecorder._approval_resolved,
    AgentTransferred: QueryRecorder._transferred,
    DelegationStarted: QueryRecorder._delegation_started,
    DelegationReturned: QueryRecorder._delegation_returned,
    ContextFetched: QueryRecorder._context_fetched,
}
