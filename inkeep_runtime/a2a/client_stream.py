"""Reading a streamed A2A send (`message/stream`, `SendStreamingMessage`) as answer text as it arrives.

Every SSE event is a JSON-RPC response whose `result` is, in 1.0, `{"task"}`, `{"message"}`,
`{"statusUpdate"}` or `{"artifactUpdate"}`, and in 0.3 the same objects with a `kind` discriminator
(reference/protocols.md §C.4). The stream is one message, or a task followed by updates until a
terminal (or interrupted) state; 0.3 also marks the last update `final: true`.

Text is assembled the way the non-streamed answer is (`client_wire.answer_from_result`): parts of one
event are separated by a line break, data parts are JSON; an artifact update with `append: true` that
continues text with text is glued on directly (a token stream), as A2A intends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from inkeep_runtime.a2a.client_wire import (
    FAILED_STATES,
    A2AAnswer,
    A2AError,
    A2AProtocolError,
    render_parts,
    task_state,
)

__all__ = ["A2ADelta", "StreamReader", "sse_data"]

_DONE_STATES: Final = frozenset({"completed", "input-required"}) | FAILED_STATES
_KINDS: Final = {
    "task": "task",
    "message": "message",
    "statusUpdate": "status",
    "status-update": "status",
    "artifactUpdate": "artifact",
    "artifact-update": "artifact",
}

_Kind = Literal["task", "message", "status", "artifact"]


@dataclass(frozen=True, slots=True)
class A2ADelta:
    """A piece of the answer text, as the external agent streamed it."""

    text: str


@dataclass(slots=True)
class StreamReader:
    """Turns the results of one streamed send into text pieces and, at the end, the answer."""

    agent_id: str
    context_id: str | None = None
    task_id: str | None = None
    state: str = ""
    text: str = ""
    """All answer text so far."""
    is_done: bool = False
    _status_text: str = ""
    _last_kind: str | None = field(default=None, repr=False)

    def feed(self, result: Any) -> str:
        """The answer text one event adds ('' for none); sets `is_done` on the stream's last event.

        Raises:
            A2AProtocolError: the result is no A2A stream event.
            A2AError: the task failed, was rejected or canceled, or needs authentication.
        """
        kind, body = self._unwrap(result)
        self.context_id = _str(body.get("contextId")) or self.context_id
        if kind == "message":
            self.is_done = True
            return self._add(body.get("parts"), is_append=False)
        if kind == "artifact":
            return self._add(_dict(body.get("artifact")).get("parts"), is_append=body.get("append") is True)
        self.task_id = _str(body.get("id") if kind == "task" else body.get("taskId")) or self.task_id
        added = ""
        if kind == "task":
            artifacts = body.get("artifacts")
            for artifact in artifacts if isinstance(artifacts, list) else []:
                added += self._add(_dict(artifact).get("parts"), is_append=False)
        status = _dict(body.get("status"))
        self.state = task_state(status.get("state")) or self.state
        if isinstance(status.get("message"), dict):
            self._status_text = render_parts(status["message"].get("parts"))
        if self.state in FAILED_STATES:
            why = f": {self._status_text}" if self._status_text else "."
            msg = f"External agent '{self.agent_id}' ended its task as {self.state}{why}"
            raise A2AError(msg, agentId=self.agent_id, taskState=self.state)
        if self.state in _DONE_STATES or body.get("final") is True:
            self.is_done = True
            if not self.text and self._status_text:
                added += self._add([{"text": self._status_text}], is_append=False)
        return added

    def answer(self) -> A2AAnswer:
        """What the stream answered (call at its end).

        Raises:
            A2AProtocolError: the stream ended before any answer.
        """
        if not self.is_done and not self.text:
            msg = f"External agent '{self.agent_id}' ended its stream without an answer."
            raise A2AProtocolError(msg, agentId=self.agent_id)
        return A2AAnswer(
            text=self.text, context_id=self.context_id, task_id=self.task_id, state=self.state or "completed"
        )

    def _unwrap(self, result: Any) -> tuple[_Kind, dict[str, Any]]:
        if isinstance(result, dict):
            for key in ("task", "message", "statusUpdate", "artifactUpdate"):  # 1.0
                if isinstance(result.get(key), dict):
                    return _KINDS[key], result[key]  # type: ignore[return-value]
            kind = _KINDS.get(str(result.get("kind")))  # 0.3
            if kind is not None:
                return kind, result  # type: ignore[return-value]
        msg = f"External agent '{self.agent_id}' streamed something that is no A2A task, message or update."
        raise A2AProtocolError(msg, agentId=self.agent_id)

    def _add(self, parts: object, *, is_append: bool) -> str:
        added = ""
        for index, part in enumerate(parts if isinstance(parts, list) else []):
            piece = render_parts([part])
            if not piece:
                continue
            kind = "text" if isinstance(part, dict) and "text" in part else "data"
            glued = index == 0 and is_append and kind == "text" and self._last_kind == "text"
            if self.text or added:
                added += "" if glued else "\n"
            added += piece
            self._last_kind = kind
        self.text += added
        return added


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The `data` of each server-sent event (multi-line data joined by line breaks; comments skipped)."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
