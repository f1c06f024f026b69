"""RunEvents → A2A task updates (the A2A column of DESIGN.md's event table).

| RunEvent | A2A |
|---|---|
| RunStarted | status-update `working` (metadata: `runId`, `agentId`) |
| TextDelta | artifact-update of the answer artifact: a text part, `append: true` after the first |
| DataComponent | artifact-update: a data part `{"id", "name", "props"}` with metadata `{"type": "data-component"}` |
| AgentTransferred, DelegationStarted, DelegationReturned | status-update `working`, metadata `{"operation": ...}` (1) |
| ArtifactSaved | artifact-update of a new artifact (its id, name, description; one data part: the summary) |
| ToolApprovalRequested / ToolApprovalResolved | status-update `working`, metadata `{"approval": ...}` (2) |
| Usage | kept; sent as `metadata.usage` of the final status |
| RunCompleted | status-update `completed` (final) |
| RunFailed | status-update `failed` (final); its message: the problem's detail (text) and the problem (data) |
| tool calls, steps | nothing (a peer agent sees answers, not our tools) |

(1) The same operation payload the chat streams show as `data-operation` (`protocols.base.operation_payload`).
(2) Deliberate divergence from DESIGN.md's `input-required`: in A2A that state asks *the peer* for the next
message on this task, but our approvals are decided through the approvals API by a human, and the run
keeps waiting meanwhile; so the task stays `working` and the peer learns what it waits for.

The task has one answer artifact (`<taskId>-answer`, name `answer`) whose parts follow the order in
which the agents produced them, across transfers. Streamed, each text delta is one appended part, as
A2A intends; stored (and in `tasks/get`), neighbouring text parts are merged into one.
"""

from __future__ import annotations

from typing import Any

from inkeep_runtime.a2a.wire import ArtifactUpdate, StatusUpdate, Update, agent_message
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
    TextDelta,
    ToolApprovalRequested,
    ToolApprovalResolved,
    Usage,
)
from inkeep_runtime.ids import new_id
from inkeep_runtime.protocols.base import operation_payload
from inkeep_runtime.store.rows import utc_now

__all__ = ["TaskEncoder", "now"]


def now() -> str:
    """An A2A timestamp: ISO 8601 UTC with milliseconds."""
    return utc_now()


class TaskEncoder:
    """Turns one run's events into updates of one task, and remembers the answer artifact's parts."""

    def __init__(self, *, task_id: str, context_id: str) -> None:
        self.task_id = task_id
        self.context_id = context_id
        self.artifact_id = f"{task_id}-answer"
        self._parts: list[dict[str, Any]] = []
        self._text: list[str] = []
        """Pieces of the text part being streamed (joined lazily: no quadratic concatenation per token)."""
        self._usage: dict[str, int] | None = None
        self._saved: list[dict[str, Any]] = []
        """Artifacts the agents saved (tool results), after the answer."""
        self._head: dict[str, Any] = {"artifactId": self.artifact_id, "name": "answer"}

    @property
    def has_answer(self) -> bool:
        """Whether any answer part was produced."""
        return bool(self._parts or self._text)

    def artifacts(self) -> list[dict[str, Any]]:
        """The answer artifact as it stands (merged parts), or nothing before the first part."""
        parts = [*self._parts, {"text": "".join(self._text)}] if self._text else list(self._parts)
        answer = [{**self._head, "parts": parts}] if parts else []
        return [*answer, *self._saved]

    def status(
        self, state: str, *, message: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None
    ) -> StatusUpdate:
        """A status update of this task."""
        return StatusUpdate(
            task_id=self.task_id,
            context_id=self.context_id,
            state=state,
            timestamp=now(),
            message=message,
            metadata=metadata,
        )

    def agent_text(self, text: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """An agent message (for status updates) with `text` and optionally a data part."""
        parts: list[dict[str, Any]] = [{"text": text}]
        if data is not None:
            parts.append({"data": data})
        return agent_message(parts, message_id=new_id(), task_id=self.task_id, context_id=self.context_id)

    def _append(self, part: dict[str, Any]) -> ArtifactUpdate:
        is_append = self.has_answer
        if "text" in part:
            self._text.append(part["text"])
        else:
            if self._text:
                self._parts.append({"text": "".join(self._text)})
                self._text = []
            self._parts.append(part)
        artifact = {**self._head, "parts": [part]}
        return ArtifactUpdate(task_id=self.task_id, context_id=self.context_id, artifact=artifact, append=is_append)

    def encode(self, event: RunEvent) -> list[Update]:
        """The updates `event` means for the task (often none)."""
        if isinstance(event, TextDelta):
            return [self._append({"text": event.text})] if event.text else []
        if isinstance(event, DataComponent):
            data = {"id": event.id, "name": event.name, "props": event.props}
            return [self._append({"data": data, "metadata": {"type": "data-component", "agentId": event.agent_id}})]
        if isinstance(event, ArtifactSaved):
            return [self._saved_artifact(event)]
        if isinstance(event, AgentTransferred | DelegationStarted | DelegationReturned):
            return [self.status("working", metadata={"operation": operation_payload(event)})]
        if isinstance(event, RunStarted):
            return [self.status("working", metadata={"runId": event.run_id, "agentId": event.agent_id})]
        if isinstance(event, ToolApprovalRequested):
            approval = {
                "approvalId": event.approval_id,
                "toolName": event.tool_name,
                "callId": event.call_id,
                "agentId": event.agent_id,
                "expiresAt": event.expires_at,
                "state": "requested",
            }
            return [self.status("working", metadata={"approval": approval})]
        if isinstance(event, ToolApprovalResolved):
            approval = {"approvalId": event.approval_id, "toolName": event.tool_name, "state": event.decision}
            return [self.status("working", metadata={"approval": approval})]
        if isinstance(event, Usage):
            self._usage = {"inputTokens": event.input_tokens, "outputTokens": event.output_tokens}
            return []
        if isinstance(event, RunCompleted):
            metadata: dict[str, Any] = {"finishReason": event.finish_reason}
            if self._usage is not None:
                metadata["usage"] = self._usage
            return [self.status("completed", metadata=metadata)]
        if isinstance(event, RunFailed):
            return [self.failed(event.problem)]
        return []

    def _saved_artifact(self, event: ArtifactSaved) -> ArtifactUpdate:
        artifact = {
            "artifactId": event.artifact_id,
            "name": event.name,
            "description": event.description,
            "parts": [{"data": event.summary}],
            "metadata": {"type": event.type, "toolCallId": event.tool_call_id, "agentId": event.agent_id},
        }
        self._saved.append(artifact)
        return ArtifactUpdate(task_id=self.task_id, context_id=self.context_id, artifact=artifact, append=False)

    def failed(self, problem: Problem) -> StatusUpdate:
        """The final `failed` status for `problem`."""
        data = {"code": problem.code, "title": problem.title, "status": problem.status, "detail": problem.detail}
        return self.status("failed", message=self.agent_text(problem.detail, {"problem": data}))
