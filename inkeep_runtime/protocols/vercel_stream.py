"""Vercel AI SDK UI message stream, protocol v1 (AI SDK 5, 6 and 7; reference/protocols.md §B.2).

The client validates every chunk against a strict zod union (an unknown `type` or a missing field kills
the stream) and then folds the chunks into one `UIMessage`, enforcing order: `text-delta` needs an open
`text-start` with the same id, tool outputs need the tool part to exist. The adapter keeps just enough
state to respect that:

* one open text block at a time, with a fresh id (`text-1`, `text-2`, ...); it is closed before any
  tool or operation part, when the step ends, when another agent starts talking, and at the end;
* tool calls (MCP tools only) become `tool-input-start` + `tool-input-available`, then
  `tool-output-available` or `tool-output-error`. They are marked `dynamic: true`: the client cannot
  know our tools' types at compile time, which is what the AI SDK's dynamic tools are for (its own MCP
  client does the same), so they appear as `dynamic-tool` parts carrying `toolName`;
* transfers and delegations are control flow, not tools: `data-operation` parts whose `data` is the
  shared operation payload (`protocols.base.operation_payload`: `transfer`, `delegation_sent`,
  `delegation_returned`); they carry no `id`, because data parts with the same id replace each other;
* a tool call waiting for approval gets the SDK's `tool-approval-request` after its input parts; a refused
  one `tool-output-denied` (and no output part); see `protocols/approvals.py`;
* a data component is `data-component` with the component id as part id, so re-sending it updates it;
* a status summary is `data-summary` (`{type, label, details}`, no part id, the text block left open);
  a saved artifact is `data-artifact` (`{artifactId, toolCallId, name, description, type,
  artifactSummary}`) with the artifact id as part id;
* the end is `finish` (with `finishReason` from the six v6 values, and the usage as
  `messageMetadata.usage`), then `[DONE]`; a failure is `error` (`errorText`) first and `finish` with
  `finishReason: "error"`.

Only chunk types and fields that `ai@6` accepts are sent (checked against its `uiMessageChunkSchema`);
`tests/node/parse_ui_stream.mjs` runs our output through the real parser.
"""

from __future__ import annotations

from typing import Any

from inkeep_runtime.events import (
    AgentTransferred,
    ArtifactSaved,
    ContextFetched,
    DataComponent,
    DelegationReturned,
    DelegationStarted,
    FinishReason,
    Problem,
    RunCompleted,
    RunEvent,
    RunStarted,
    StatusSummary,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from inkeep_runtime.protocols.approvals import approval_operation, approval_request_chunk
from inkeep_runtime.protocols.base import (
    DONE,
    ProtocolAdapter,
    artifact_payload,
    dumps,
    operation_payload,
    quote,
    summary_payload,
)

__all__ = ["UI_MESSAGE_STREAM_HEADERS", "UIMessageStreamAdapter"]

UI_MESSAGE_STREAM_HEADERS = {
    "cache-control": "no-cache",
    "connection": "keep-alive",
    "x-accel-buffering": "no",
    "x-vercel-ai-ui-message-stream": "v1",
    # Inkeep's own clients look for this marker (inkeep-behaviour.md §3.2).
    "x-vercel-ai-data-stream": "v2",
}
"""The AI SDK's `UI_MESSAGE_STREAM_HEADERS` plus Inkeep's marker."""

_FINISH_REASONS: dict[FinishReason, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "content_filter": "content-filter",
}


def _data_part(event: DataComponent | ArtifactSaved) -> str:
    if isinstance(event, ArtifactSaved):
        return dumps({"type": "data-artifact", "id": event.artifact_id, "data": artifact_payload(event)})
    data = {"id": event.id, "name": event.name, "props": event.props}
    return dumps({"type": "data-component", "id": event.id, "data": data})


class UIMessageStreamAdapter(ProtocolAdapter):
    """Encodes one run as UI message stream chunks for one assistant message.

    Args:
        message_id: the assistant message's id (the `start` chunk's `messageId`).
    """

    def __init__(self, *, message_id: str) -> None:
        self.message_id = message_id
        self._finished = False
        self._step_open = False
        self._text_id: str | None = None
        """The open text block, if any."""
        self._text_agent: str | None = None
        self._text_blocks = 0
        self._delta_head = ""
        self._tool_calls: set[str] = set()
        """Tool calls the client has seen start (so their output can follow)."""
        self._denied: set[str] = set()
        """Tool calls whose approval was refused: their part stays `output-denied` (`protocols.approvals`)."""
        self._usage: Usage | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The AI SDK stream headers (`x-vercel-ai-ui-message-stream: v1`, `x-vercel-ai-data-stream: v2`)."""
        return dict(UI_MESSAGE_STREAM_HEADERS)

    @property
    def is_finished(self) -> bool:
        """Whether `finish` and `[DONE]` have been produced."""
        return self._finished

    def encode(self, event: RunEvent) -> list[str]:
        """The chunks for one event."""
        if self._finished:
            return []
        if isinstance(event, TextDelta):
            return self._text(event)
        if isinstance(event, RunStarted):
            metadata = {"conversationId": event.conversation_id}
            return [dumps({"type": "start", "messageId": self.message_id, "messageMetadata": metadata})]
        if isinstance(event, StepStarted):
            frames = self._close_step()
            self._step_open = True
            return [*frames, '{"type":"start-step"}']
        if isinstance(event, StepFinished):
            return self._close_step()
        if isinstance(event, ToolCallStarted):
            return [*self._close_text(), *self._tool_start(event.call_id, event.tool_name, event.arguments)]
        if isinstance(event, ToolCallFinished | ToolApprovalRequested | ToolApprovalResolved):
            return [*self._close_text(), *self._tool_output(event)]
        if isinstance(event, AgentTransferred | DelegationStarted | DelegationReturned):
            data = operation_payload(event)
            return [*self._close_text(), dumps({"type": "data-operation", "data": data})]
        if isinstance(event, DataComponent | ArtifactSaved | StatusSummary):
            return self._data(event)
        if isinstance(event, Usage | ContextFetched):
            self._usage = event if isinstance(event, Usage) else self._usage  # context fetches are not for clients
            return []
        if isinstance(event, RunCompleted):
            return self._finish(_FINISH_REASONS[event.finish_reason])
        return self.encode_error(event.problem)  # RunFailed, the only event left

    def _data(self, event: DataComponent | ArtifactSaved | StatusSummary) -> list[str]:
        if isinstance(event, StatusSummary):
            # No id (summaries accumulate) and the open text block stays open: a progress note must not split
            # the answer into two text parts (the AI SDK adds data parts beside an open text part).
            return [dumps({"type": "data-summary", "data": summary_payload(event)})]
        return [*self._close_text(), _data_part(event)]

    def encode_error(self, problem: Problem) -> list[str]:
        """`error` with the problem's detail as `errorText`, then `finish` (reason `error`) and `[DONE]`."""
        if self._finished:
            return []
        frames = self._close_step()
        frames.append(dumps({"type": "error", "errorText": problem.detail}))
        return frames + self._finish("error")

    def finish(self) -> list[str]:
        """Close as completed (`stop`) if no terminal event was encoded."""
        return self._finish("stop")

    def _text(self, event: TextDelta) -> list[str]:
        frames: list[str] = []
        if self._text_id is not None and self._text_agent != event.agent_id:
            frames = self._close_text()
        if self._text_id is None:
            if not event.text:
                return frames
            self._text_blocks += 1
            self._text_id = f"text-{self._text_blocks}"
            self._text_agent = event.agent_id
            text_id = dumps(self._text_id)
            # The hot path: precompute everything but the delta itself.
            self._delta_head = '{"type":"text-delta","id":' + text_id + ',"delta":'
            frames.append('{"type":"text-start","id":' + text_id + "}")
        if event.text:
            frames.append(f"{self._delta_head}{quote(event.text)}}}")
        return frames

    def _close_text(self) -> list[str]:
        if self._text_id is None:
            return []
        frame = dumps({"type": "text-end", "id": self._text_id})
        self._text_id = self._text_agent = None
        return [frame]

    def _close_step(self) -> list[str]:
        frames = self._close_text()
        if self._step_open:
            self._step_open = False
            frames.append('{"type":"finish-step"}')
        return frames

    def _tool_start(self, call_id: str, tool_name: str, arguments: dict[str, Any]) -> list[str]:
        self._tool_calls.add(call_id)
        return [
            dumps({"type": "tool-input-start", "toolCallId": call_id, "toolName": tool_name, "dynamic": True}),
            dumps(
                {
                    "type": "tool-input-available",
                    "toolCallId": call_id,
                    "toolName": tool_name,
                    "input": arguments,
                    "dynamic": True,
                }
            ),
        ]

    def _approval(self, event: ToolApprovalRequested | ToolApprovalResolved) -> list[str]:
        if isinstance(event, ToolApprovalRequested):
            known = event.call_id in self._tool_calls  # the SDK needs the tool part before its approval request
            frames = [] if known else self._tool_start(event.call_id, event.tool_name, event.arguments)
            return [*frames, dumps(approval_request_chunk(event))]
        frames = [dumps({"type": "data-operation", "data": approval_operation(event)})]
        if event.decision != "approved" and event.call_id in self._tool_calls:
            self._denied.add(event.call_id)
            frames.insert(0, dumps({"type": "tool-output-denied", "toolCallId": event.call_id}))
        return frames

    def _tool_output(self, event: ToolCallFinished | ToolApprovalRequested | ToolApprovalResolved) -> list[str]:
        if not isinstance(event, ToolCallFinished):
            return self._approval(event)
        if event.call_id in self._denied:
            return []
        # The client rejects an output for a call it never saw start; announce it rather than break the stream.
        frames = [] if event.call_id in self._tool_calls else self._tool_start(event.call_id, event.tool_name, {})
        if event.is_error:
            text = event.output if isinstance(event.output, str) else dumps(event.output)
            frames.append(dumps({"type": "tool-output-error", "toolCallId": event.call_id, "errorText": text}))
        else:
            frames.append(dumps({"type": "tool-output-available", "toolCallId": event.call_id, "output": event.output}))
        return frames

    def _finish(self, finish_reason: str) -> list[str]:
        if self._finished:
            return []
        frames = self._close_step()
        finish: dict[str, Any] = {"type": "finish", "finishReason": finish_reason}
        if self._usage is not None:
            prompt, completion = self._usage.input_tokens, self._usage.output_tokens
            usage = {"inputTokens": prompt, "outputTokens": completion, "totalTokens": prompt + completion}
            finish["messageMetadata"] = {"usage": usage}
        self._finished = True
        return [*frames, dumps(finish), DONE]
