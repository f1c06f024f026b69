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
    "ArtifactSaved",
    "ContextFetched",
    "DataComponent",
    "DelegationReturned",
    "DelegationStarted",
    "FinishReason",
    "Problem",
    "RunCompleted",
    "RunEvent",
    "RunFailed",
    "RunStarted",
    "StatusSummary",
    "StepFinished",
    "StepStarted",
    "TextDelta",
    "ToolApprovalRequested",
    "ToolApprovalResolved",
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
    model: str = ""
    """The model this step calls (empty when unknown)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished:
    """The model call of a step ended (its tool calls may follow in the next step)."""

    agent_id: str
    step: int
    input_tokens: int = 0
    """Prompt tokens of this step's model call (0 when the provider reported none)."""
    output_tokens: int = 0
    """Completion tokens of this step's model call."""


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
    tool_id: str = ""
    """The MCP server record (`tools` row) the call goes to."""
    tool_server_name: str = ""
    """That record's name."""
    server_tool_name: str = ""
    """The tool's name on the MCP server (`tool_name` is the model-facing, sanitised name)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallFinished:
    """A tool call returned (or failed; the error text is the output)."""

    agent_id: str
    call_id: str
    tool_name: str
    output: Any
    is_error: bool = False
    error_type: str | None = None
    """Why it failed, in the query-log taxonomy (`observe.taxonomy.ERROR_TYPES`); None on success."""
    duration_ms: int | None = None
    """How long the call itself took (None when unknown)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolApprovalRequested:
    """A tool call waits for a human decision (its `ToolCallStarted` came first); see `agent/approvals.py`."""

    agent_id: str
    call_id: str
    approval_id: str
    tool_name: str
    """The model-facing tool name (as in `ToolCallStarted`)."""
    tool_id: str
    """The MCP server record the call goes to."""
    server_tool_name: str
    """The tool's name on the MCP server."""
    arguments: dict[str, Any]
    run_id: str
    """The run (query) that asks."""
    expires_at: str
    """ISO-8601 UTC time after which the call counts as rejected (`expired`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolApprovalResolved:
    """A human (or the clock) decided a pending approval; a rejected or expired call is not run."""

    agent_id: str
    call_id: str
    approval_id: str
    tool_name: str
    decision: Literal["approved", "rejected", "expired"]
    reason: str | None = None


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
class ArtifactSaved:
    """An agent saved a tool result as an artifact; clients see its summary (the full data stays stored)."""

    agent_id: str
    artifact_id: str
    tool_call_id: str
    type: str
    """The artifact component's name."""
    name: str
    description: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextFetched:
    """A context variable was resolved for this turn (fetched, reused from the cache, or defaulted).

    For query logs and tracing; protocol adapters do not show it to clients.
    """

    name: str
    """The variable's key (`userProfile`)."""
    trigger: Literal["initialization", "invocation"]
    cached: bool
    """Reused: from the conversation's cache, or from a concurrent turn's fetch of the same value."""
    ok: bool
    """False when the fetch failed and the variable's `defaultValue` (or null) was used."""
    duration_ms: float
    error: str | None = None
    """What failed (never a secret or the rendered request)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusSummary:
    """A short progress update of a long turn, written by the summarizer model (`agent/status.py`)."""

    type: str
    """The status component it fills (e.g. `retrieve`, `action`, or one of the graph's `statusComponents`)."""
    label: str
    """A few words for the user, e.g. "Found three open orders"."""
    details: dict[str, Any] = field(default_factory=dict)
    """Structured details, valid against the component's schema."""


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
    | ToolApprovalRequested
    | ToolApprovalResolved
    | AgentTransferred
    | DelegationStarted
    | DelegationReturned
    | DataComponent
    | ArtifactSaved
    | ContextFetched
    | StatusSummary
    | Usage
    | RunCompleted
    | RunFailed
)
"""Everything a run can tell its client."""
