"""OpenAI Chat Completions wire format: `chat.completion.chunk` SSE and the non-streaming `chat.completion`.

Follows the shapes the official `openai` SDK validates strictly (reference/protocols.md §A.3 to A.5):

* every chunk carries `id`, `object`, `created`, `model`, `system_fingerprint` and one choice with
  `index`, `delta`, `finish_reason` and `logprobs`; with `include_usage`, also `"usage": null`;
* `delta.role` is sent exactly once, in the first chunk (the SDK's stream helper concatenates repeated
  roles into `"assistantassistant"`; Inkeep sends one per agent);
* exactly one finish chunk and one `[DONE]` (Inkeep sends two of each);
* after the finish chunk and before `[DONE]`, the usage chunk (`choices: []`) if the client asked;
* a failure after the response started is `{"error": {...}}` and `[DONE]`: the SDK raises `APIError`.

With `emit_operations` (the `x-emit-operations: true` header) transfers, delegations, tool calls, data
components, saved artifacts, status summaries and errors also travel as Inkeep-style JSON strings inside `delta.content`
(`{"type": "data-operation", "data": ...}`, inkeep-behaviour.md §3.1); `agent_initializing` opens the
stream and `completion` ends it, as in Inkeep. Without it, plain clients see only the answer text.
Text is streamed as it arrives, never re-split into words or paced.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from inkeep_runtime.events import (
    AgentTransferred,
    ArtifactSaved,
    DataComponent,
    DelegationReturned,
    DelegationStarted,
    FinishReason,
    Problem,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    StatusSummary,
    TextDelta,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from inkeep_runtime.protocols.approvals import approval_operation
from inkeep_runtime.protocols.base import (
    DONE,
    OperationEvent,
    ProtocolAdapter,
    artifact_payload,
    dumps,
    operation_payload,
    quote,
    summary_payload,
)

__all__ = ["OpenAICompletionCollector", "OpenAIStreamAdapter", "collect_completion", "openai_error", "usage_payload"]

_OPERATION_EVENTS = (AgentTransferred, DelegationStarted, DelegationReturned, ToolCallStarted, ToolCallFinished)
_APPROVAL_EVENTS = (ToolApprovalRequested, ToolApprovalResolved)


def _operation_data(event: OperationEvent | ToolApprovalRequested | ToolApprovalResolved) -> dict[str, Any]:
    """The operation payload of a transfer, delegation, tool call or approval (`protocols.approvals`)."""
    if isinstance(event, _APPROVAL_EVENTS):
        return approval_operation(event)
    return operation_payload(event)


def usage_payload(usage: Usage | None) -> dict[str, int]:
    """OpenAI `usage` counts (zeros when the run reported none)."""
    prompt = usage.input_tokens if usage else 0
    completion = usage.output_tokens if usage else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def openai_error(problem: Problem) -> dict[str, Any]:
    """The OpenAI error object (`{"error": {message, type, param, code}}`) for a problem."""
    kind = "invalid_request_error" if problem.status < 500 else "server_error"
    return {"error": {"message": problem.detail, "type": kind, "param": None, "code": problem.code}}


class OpenAIStreamAdapter(ProtocolAdapter):
    """Encodes one run as `chat.completion.chunk` payloads.

    Args:
        model: the model name shown to clients; a non-empty `RunStarted.model` replaces it, as long as
            no chunk has been sent yet (every chunk must repeat the same model).
        completion_id: the `id` of every chunk (`chatcmpl-...`).
        created: Unix seconds of the `created` field.
        include_usage: the request's `stream_options.include_usage`.
        emit_operations: the request's `x-emit-operations: true` header.
    """

    def __init__(
        self,
        *,
        model: str,
        completion_id: str,
        created: int,
        include_usage: bool = False,
        emit_operations: bool = False,
    ) -> None:
        self.model = model
        self.completion_id = completion_id
        self.created = created
        self.include_usage = include_usage
        self.emit_operations = emit_operations
        self._started = False
        self._finished = False
        self._usage: Usage | None = None
        self._agent_id: str | None = None
        self._text_head = ""
        self._text_tail = ""

    @property
    def is_finished(self) -> bool:
        """Whether `[DONE]` has been produced."""
        return self._finished

    def encode(self, event: RunEvent) -> list[str]:
        """The payloads for one event."""
        if self._finished:
            return []
        if isinstance(event, TextDelta):
            # The hot path: one dumps of the new text between precomputed constant halves.
            head = [] if self._started else self._open()
            if not event.text:
                return head
            return [*head, f"{self._text_head}{quote(event.text)}{self._text_tail}"]
        if isinstance(event, RunStarted):
            return self._on_run_started(event)
        if isinstance(event, Usage):
            self._usage = event
            return []
        if isinstance(event, RunCompleted):
            return self._complete(event.finish_reason)
        if isinstance(event, RunFailed):
            return self.encode_error(event.problem)
        if isinstance(event, AgentTransferred):
            self._agent_id = event.to_agent_id
        if self.emit_operations and isinstance(event, _OPERATION_EVENTS + _APPROVAL_EVENTS):
            return self._content_json({"type": "data-operation", "data": _operation_data(event)})
        if self.emit_operations and isinstance(event, DataComponent | ArtifactSaved | StatusSummary):
            return self._content_json(_data_json(event))
        return []  # steps, and operations the client did not ask for

    def encode_error(self, problem: Problem) -> list[str]:
        """An OpenAI error event, then `[DONE]` (with operations, Inkeep's error operation first)."""
        if self._finished:
            return []
        frames: list[str] = []
        if self.emit_operations:
            error = {"type": "error", "message": problem.detail, "code": problem.code, "severity": "error"}
            if self._agent_id is not None:
                error["agent"] = self._agent_id
            frames = self._content_json({"type": "data-operation", "data": error})
        self._finished = True
        return [*frames, dumps(openai_error(problem)), DONE]

    def finish(self) -> list[str]:
        """Close as completed (`stop`) if no terminal event was encoded."""
        return self._complete("stop")

    def _on_run_started(self, event: RunStarted) -> list[str]:
        if not self._started and event.model:
            self.model = event.model
        self._agent_id = event.agent_id
        frames = [] if self._started else self._open()
        if self.emit_operations:
            details = {"sessionId": self.completion_id, "graphId": event.graph_id}
            frames += self._content_json(
                {"type": "data-operation", "data": {"type": "agent_initializing", "details": details}}
            )
        return frames

    def _open(self) -> list[str]:
        """The role chunk, and the constant halves of every later text chunk."""
        self._started = True
        # Same key order as `_chunk`, so text chunks and the rest look alike.
        envelope = dumps(self._envelope())[:-1]
        self._text_head = envelope + ',"choices":[{"index":0,"delta":{"content":'
        usage = ',"usage":null' if self.include_usage else ""
        self._text_tail = '},"finish_reason":null,"logprobs":null}]' + usage + "}"
        return [self._chunk({"role": "assistant", "content": ""}, None)]

    def _complete(self, finish_reason: FinishReason) -> list[str]:
        if self._finished:
            return []
        frames = [] if self._started else self._open()
        if self.emit_operations:
            details = {"agent": self._agent_id}
            frames += self._content_json({"type": "data-operation", "data": {"type": "completion", "details": details}})
        frames.append(self._chunk({}, finish_reason))
        if self.include_usage:
            frames.append(dumps({**self._envelope(), "choices": [], "usage": usage_payload(self._usage)}))
        frames.append(DONE)
        self._finished = True
        return frames

    def _content_json(self, value: dict[str, Any]) -> list[str]:
        head = [] if self._started else self._open()
        return [*head, f"{self._text_head}{quote(dumps(value))}{self._text_tail}"]

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
        }

    def _chunk(self, delta: dict[str, Any], finish_reason: FinishReason | None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        chunk = {**self._envelope(), "choices": [choice]}
        if self.include_usage:
            chunk["usage"] = None
        return dumps(chunk)


def _data_json(event: DataComponent | ArtifactSaved | StatusSummary) -> dict[str, Any]:
    """The Inkeep-style `data-component`, `data-artifact` or `data-summary` object sent in `delta.content`."""
    if isinstance(event, DataComponent):
        return {"type": "data-component", "data": {"id": event.id, "name": event.name, "props": event.props}}
    if isinstance(event, ArtifactSaved):
        return {"type": "data-artifact", "data": artifact_payload(event)}
    return {"type": "data-summary", "data": summary_payload(event)}


class OpenAICompletionCollector:
    """Folds the events of a run into one non-streaming `chat.completion` body.

    Feed every event to `add`; then `result()` is the completion, or the `Problem` the run failed with
    (the route renders that as problem JSON with its status). Operations are not part of the answer.
    """

    def __init__(self, *, model: str, completion_id: str, created: int) -> None:
        self.model = model
        self.completion_id = completion_id
        self.created = created
        self._text: list[str] = []
        self._usage: Usage | None = None
        self._finish_reason: FinishReason = "stop"
        self._problem: Problem | None = None

    def add(self, event: RunEvent) -> None:
        """Take one event into account."""
        if isinstance(event, TextDelta):
            self._text.append(event.text)
        elif isinstance(event, RunStarted) and event.model:
            self.model = event.model
        elif isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, RunCompleted):
            self._finish_reason = event.finish_reason
        elif isinstance(event, RunFailed):
            self._problem = event.problem

    def result(self) -> dict[str, Any] | Problem:
        """The `chat.completion` body, or the problem that ended the run."""
        if self._problem is not None:
            return self._problem
        message = {"role": "assistant", "content": "".join(self._text), "refusal": None}
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish_reason, "logprobs": None}],
            "usage": usage_payload(self._usage),
        }


def collect_completion(
    events: Iterable[RunEvent], *, model: str, completion_id: str, created: int
) -> dict[str, Any] | Problem:
    """Fold a whole event list into a `chat.completion` body (or the run's problem)."""
    collector = OpenAICompletionCollector(model=model, completion_id=completion_id, created=created)
    for event in events:
        collector.add(event)
    return collector.result()
