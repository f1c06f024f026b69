"""The contract between the HTTP layer and the graph executor.

A run has two halves. `prepare` does everything that can still fail with a plain HTTP status (graph
exists, conversation exists and belongs to the graph, request context is valid) and commits the user's
message, so the response headers (`x-conversation-id`) can be sent. `stream` then yields `RunEvent`s,
starting with `RunStarted` and ending with exactly one `RunCompleted` or `RunFailed`; it never raises
for run failures. Cancelling the iteration (client disconnect) cancels the model call and pending tool
calls, and the partial answer is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from inkeep_runtime.events import RunEvent
from inkeep_runtime.protocols.requests import RunRequest

__all__ = ["PreparedRun", "RunTarget", "Runner"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTarget:
    """Which graph a request addresses (from the URL, checked against the API key)."""

    tenant_id: str
    project_id: str
    graph_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedRun:
    """A run whose user message is stored and whose stream can start."""

    target: RunTarget
    request: RunRequest
    conversation_id: str
    run_id: str
    agent_id: str
    """The agent that answers first (the conversation's active agent)."""
    is_new_conversation: bool
    observer: Callable[[RunEvent], None] | None = None
    """Sees the events the stream does not yield (a delegated agent's steps and tool calls); the query-log
    recorder sets it. Called synchronously on the run's task: it must not block or raise."""

    def observed_by(self, observer: Callable[[RunEvent], None]) -> PreparedRun:
        """This run with `observer` seeing the hidden events too (after any observer it already has)."""
        first = self.observer
        if first is None:
            return replace(self, observer=observer)

        def both(event: RunEvent) -> None:
            first(event)
            observer(event)

        return replace(self, observer=both)


class Runner(Protocol):
    """What the HTTP layer needs from the executor."""

    async def prepare(self, target: RunTarget, request: RunRequest) -> PreparedRun:
        """Check the request against stored state and commit the user message.

        Raises:
            NotFound: unknown graph, or a conversation that does not exist in this graph.
            InvalidRequest: the request cannot run (e.g. request context violates the schema).
        """
        ...

    def stream(self, prepared: PreparedRun) -> AsyncIterator[RunEvent]:
        """Run the turn, yielding events as they happen."""
        ...
