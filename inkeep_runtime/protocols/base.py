"""What every wire protocol adapter does, and the pieces they share.

A run speaks one internal language, the `RunEvent` union of `inkeep_runtime.events`. Each client
protocol (OpenAI chat completion chunks, the Vercel AI SDK UI message stream, A2A) is an adapter that
turns those events into the payloads of Server-Sent Events. The route owns the HTTP side (status,
headers, `EventSourceResponse`); the adapter owns the bytes inside each `data:` line. Keeping the two
apart means the protocol tests are pure: events go in, a list of strings comes out.

Three rules shape the adapters:

* **An adapter is a small state machine, one per stream.** Wire formats need memory that events do
  not carry: whether the OpenAI role chunk was sent, which Vercel text block is open, which tool calls
  the client has already seen. Each adapter keeps exactly that and nothing else.
* **The per-token path is cheap.** A `TextDelta` arrives for every token, so encoding one must not
  build pydantic models or re-serialise constant fields. Adapters precompute the constant head and
  tail of a text frame and only `json.dumps` the new text.
* **A stream ends exactly once.** `RunCompleted` and `RunFailed` (or `encode_error` when the route
  catches an exception after the response started, starlette's "response already started" rule) emit
  the protocol's closing frames and `[DONE]`; anything after that encodes to nothing. `finish()`
  closes a stream that ended without a terminal event, as if the run had completed.

Operations (transfers, delegations, tool calls) have one payload shape shared by both protocols,
built by `operation_payload`; it follows Inkeep's verbose operation events (inkeep-behaviour.md §7.2):
`{"type": <name>, "label": <one line for humans>, "details": {"agentId": ..., "data": {...}}}`.
The names are `transfer`, `delegation_sent`, `delegation_returned`, `tool_call`, `tool_result` and
`error`. Deliberate divergence: Inkeep adds `details.timestamp`; we leave it out so a stream is a pure
function of its events.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from inkeep_runtime.events import (
    AgentTransferred,
    ArtifactSaved,
    DelegationReturned,
    DelegationStarted,
    Problem,
    RunEvent,
    StatusSummary,
    ToolCallFinished,
    ToolCallStarted,
)

__all__ = [
    "DONE",
    "SSE_HEADERS",
    "OperationEvent",
    "ProtocolAdapter",
    "artifact_payload",
    "dumps",
    "operation_payload",
    "quote",
    "sse_frame",
    "sse_text",
    "summary_payload",
]

DONE = "[DONE]"
"""The terminal payload both OpenAI and the AI SDK use (`data: [DONE]`)."""

SSE_HEADERS: Mapping[str, str] = {"cache-control": "no-cache", "x-accel-buffering": "no"}
"""Headers every event stream sends: no caching, and no buffering in nginx-style proxies."""

OperationEvent = AgentTransferred | DelegationStarted | DelegationReturned | ToolCallStarted | ToolCallFinished
"""The events shown to clients as operations."""


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
# `json.dumps` with options builds a new encoder per call; reusing one is about 3x faster per frame.

quote = json.encoder.encode_basestring_ascii
"""A string as a JSON string literal: the only serialisation on the per-token path."""


def dumps(value: Any) -> str:
    """Compact JSON for one frame; values JSON cannot represent are rendered with `str()`."""
    return _ENCODER.encode(value)


def sse_frame(payload: str) -> str:
    """Wrap one payload as an SSE event (payloads are single-line JSON, so one `data:` line suffices)."""
    return f"data: {payload}\n\n"


def sse_text(payloads: Iterable[str]) -> str:
    """The whole SSE body for a list of payloads (tests and non-incremental writers)."""
    return "".join(sse_frame(payload) for payload in payloads)


def operation_payload(event: OperationEvent) -> dict[str, Any]:
    """The Inkeep-style operation describing a transfer, delegation or tool call (see module doc)."""
    if isinstance(event, AgentTransferred):
        return _operation(
            "transfer",
            f"Agent transfer: {event.from_agent_id} → {event.to_agent_id}",
            event.from_agent_id,
            {"fromAgent": event.from_agent_id, "targetAgent": event.to_agent_id, "reason": event.reason},
        )
    if isinstance(event, DelegationStarted):
        return _operation(
            "delegation_sent",
            f"Delegation: {event.from_agent_id} → {event.to_agent_id}",
            event.from_agent_id,
            {
                "fromAgent": event.from_agent_id,
                "targetAgent": event.to_agent_id,
                "delegationId": event.call_id,
                "message": event.message,
                "isExternal": event.is_external,
            },
        )
    if isinstance(event, DelegationReturned):
        return _operation(
            "delegation_returned",
            f"Delegation returned: {event.to_agent_id} → {event.from_agent_id}",
            event.from_agent_id,
            {
                "fromAgent": event.from_agent_id,
                "targetAgent": event.to_agent_id,
                "delegationId": event.call_id,
                "result": event.result,
                "isError": event.is_error,
            },
        )
    if isinstance(event, ToolCallStarted):
        return _operation(
            "tool_call",
            f"Tool call: {event.tool_name}",
            event.agent_id,
            {"toolName": event.tool_name, "toolCallId": event.call_id, "args": event.arguments},
        )
    return _operation(
        "tool_result",
        f"Tool {'failed' if event.is_error else 'returned'}: {event.tool_name}",
        event.agent_id,
        {"toolName": event.tool_name, "toolCallId": event.call_id, "result": event.output, "isError": event.is_error},
    )


def artifact_payload(event: ArtifactSaved) -> dict[str, Any]:
    """The `data-artifact` data both protocols send (Inkeep's shape, inkeep-behaviour.md §3.2)."""
    return {
        "artifactId": event.artifact_id,
        "toolCallId": event.tool_call_id,
        "name": event.name,
        "description": event.description,
        "type": event.type,
        "artifactSummary": event.summary,
    }


def summary_payload(event: StatusSummary) -> dict[str, Any]:
    """The `data-summary` data both protocols send: `{type, label, details}` (inkeep-behaviour.md §7.1)."""
    return {"type": event.type, "label": event.label, "details": event.details}


def _operation(name: str, label: str, agent_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": name, "label": label, "details": {"agentId": agent_id, "data": data}}


class ProtocolAdapter(ABC):
    """Turns the events of one run into the SSE payloads of one wire protocol (one instance per stream)."""

    media_type: ClassVar[str] = "text/event-stream"
    """The response content type."""

    @property
    def headers(self) -> dict[str, str]:
        """Response headers the protocol needs besides the content type."""
        return dict(SSE_HEADERS)

    @property
    @abstractmethod
    def is_finished(self) -> bool:
        """Whether the closing frames (and `[DONE]`) have been produced."""

    @abstractmethod
    def encode(self, event: RunEvent) -> list[str]:
        """The payloads for one event (often one, sometimes none or several); nothing once finished."""

    @abstractmethod
    def encode_error(self, problem: Problem) -> list[str]:
        """End the stream with the protocol's error frame; used when a run fails after the response started."""

    @abstractmethod
    def finish(self) -> list[str]:
        """Close a stream that ended without `RunCompleted`/`RunFailed`; nothing if it is already closed."""
