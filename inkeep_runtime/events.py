"""The internal event vocabulary of a run: the only thing protocol adapters consume.

The graph executor yields these; `protocols/openai_sse.py`, `protocols/vercel_stream.py` and
`protocols/a2a.py` turn them into wire frames (the mapping table lives in DESIGN.md). Events are
facts about what already happened, frozen and cheap to build, because one is made per streamed token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AgentTransferred",
    "DataComponent",
    "DelegationReturned",
    "DelegationStarted",
    "FinishReason",
    "Problem",
    "RunCompleted",
    "RunEvent",
    "RunFailed",
    "RunStarted",
    "StepFinished",
    "StepStarted",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "Usage",
]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """A failure as clients see it (the problem-JSON fields)."""

    code: str
    title: str
    status: int
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted:
    """A run began; the conversation and the agent that answers first are known."""

    run_id: str
    conversation_id: str
    graph_id: str
    agent_id: str
    model: str = ""
    """The model name clients are shown (OpenAI `model` field)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted:
    """An agent is about to call its model (one step = one model call)."""

    agent_id: str
    step: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished:
    """The model call of a step ended (its tool calls may follow in the next step)."""

    agent_id: str
    step: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta:
    """A piece of answer text, streamed as soon as the model produced it."""

    agent_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStarted:
    """The model called an MCP tool (transfers and delegations have their own events)."""

    agent_id: str
    call_id: str
    tool_name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallFinished:
    """A tool call returned (or failed; the error text is the output)."""

    agent_id: str
    call_id: str
    tool_name: str
    output: Any
    is_error: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentTransferred:
    """Control passed to another agent within the same turn."""

    from_agent_id: str
    to_agent_id: str
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DelegationStarted:
    """An agent asked another agent (internal or external) to do a task and waits for the answer."""

    from_agent_id: str
    to_agent_id: str
    call_id: str
    message: str
    is_external: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DelegationReturned:
    """A delegated task finished; its answer goes back to the delegating agent as a tool result."""

    from_agent_id: str
    to_agent_id: str
    call_id: str
    result: str
    is_error: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DataComponent:
    """A structured UI component the agent emitted, props already validated."""

    agent_id: str
    id: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Token counts of the run so far (summed over every model call)."""

    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCompleted:
    """The turn ended normally; nothing follows."""

    finish_reason: FinishReason = "stop"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFailed:
    """The turn ended with an error; nothing follows."""

    problem: Problem


RunEvent = (
    RunStarted
    | StepStarted
    | StepFinished
    | TextDelta
    | ToolCallStarted
    | ToolCallFinished
    | AgentTransferred
    | DelegationStarted
    | DelegationReturned
    | DataComponent
    | Usage
    | RunCompleted
    | RunFailed
)
"""Everything a run can tell its client."""
