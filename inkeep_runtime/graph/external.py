"""External agents in a run: delegations and transfers that reach another server over A2A.

- `delegate_to_<external>`: the delegated message goes to the external agent (`A2AClient.send_message`);
  its answer, text plus data parts as JSON, is the tool result. Failures (unreachable, timeout, HTTP
  401, a failed remote task, ...) are error results the model sees; the run goes on.
- `transfer_to_<external>`: behaves as a delegation of the user's message whose answer ends the turn.
  The answer is streamed as the run's text as it arrives (`message/stream` when the agent's card
  declares streaming), under the external agent's id, and stored as its answer.
  The conversation's active agent does not change (an external agent cannot run a later turn here),
  so the next user message goes to the agent that transferred, which sees the external answer in
  its history and may transfer again. When the call fails, control comes back to the transferring
  agent (an `AgentTransferred` back to it), its transfer tool result is replaced by the error, and it
  runs again with a note saying the transfer failed. Attempts count towards `transferCountIs`.

Remote context: A2A's `contextId` groups messages into one remote conversation. The first call in a
conversation sends none; the `contextId` the remote answers with is remembered per (tenant, project,
conversation, external agent) and sent with later calls, so repeated delegations continue the remote
conversation. The map lives in process memory (bounded, least recently used entries dropped first):
after a restart, or on another replica, the remote simply starts a new context.

Loops between servers: every call carries `x-inkeep-a2a-hops` (the hops that led to this run, plus one);
our A2A server refuses a message past `Settings.max_a2a_hops`, so two graphs that delegate to each other
across servers fail fast with a tool error instead of calling each other until the deadline.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Final

from inkeep_runtime.a2a.client import A2AAnswer, A2AClient, A2ADelta, A2AError, RemoteAgent
from inkeep_runtime.a2a.wire import HOPS_HEADER
from inkeep_runtime.agent.turn import TurnOutcome
from inkeep_runtime.events import AgentTransferred, RunEvent, StepFinished, StepStarted, TextDelta
from inkeep_runtime.graph.contract import PreparedRun
from inkeep_runtime.graph.definition import GraphDefinition
from inkeep_runtime.llm.messages import Message, SystemMessage, ToolResultMessage

__all__ = ["ExternalAgents", "ExternalHandoff"]

_MAX_CONTEXTS: Final = 10_000
_INPUT_REQUIRED_NOTE: Final = "\n(The external agent needs more input to continue.)"


@dataclass(slots=True)
class ExternalHandoff:
    """A transfer to an external agent: what it answered, or what the transferring agent is told."""

    agent_id: str
    outcome: TurnOutcome = field(default_factory=TurnOutcome)
    """The external agent's answer (stored like any agent's answer)."""
    failure_note: Message | None = None
    """Set when the call failed: the note the transferring agent runs again with."""


class ExternalAgents:
    """Calls a graph's external agents for the executor, remembering remote contexts per conversation."""

    def __init__(self, client: A2AClient, *, max_contexts: int = _MAX_CONTEXTS) -> None:
        self._client = client
        self._max_contexts = max_contexts
        self._contexts: OrderedDict[tuple[str, str, str, str], str] = OrderedDict()

    async def delegate(
        self,
        graph: GraphDefinition,
        conversation_id: str,
        from_agent_id: str,
        agent_id: str,
        message: str,
        *,
        hops: int = 0,
    ) -> tuple[str, bool]:
        """Ask external agent `agent_id` to do `message`; return (answer, is_error) for the tool result.

        `hops` is how many A2A hops led to this run; the call says `hops + 1` (`x-inkeep-a2a-hops`).
        """
        try:
            text = await self._ask(graph, conversation_id, from_agent_id, agent_id, message, hops)
        except A2AError as exc:
            return f"Error: {exc.detail}", True
        return text or "(no answer)", False

    async def transfer(
        self,
        graph: GraphDefinition,
        prepared: PreparedRun,
        from_agent_id: str,
        transferring: TurnOutcome,
        handoff: ExternalHandoff,
    ) -> AsyncIterator[RunEvent]:
        """Hand the user's message to the external agent; stream its answer, or hand control back on failure.

        Args:
            graph: the running graph.
            prepared: the run (its conversation keys the remote context; its user message is what is asked).
            from_agent_id: the agent that transferred.
            transferring: that agent's outcome (its transfer tool result is rewritten on failure).
            handoff: filled in with the answer, or with the failure note.
        """
        yield StepStarted(agent_id=handoff.agent_id, step=1)
        agent_id, answer = handoff.agent_id, handoff.outcome
        key = (graph.tenant_id, graph.project_id, prepared.conversation_id, agent_id)
        stream = self._client.stream_message(
            self._remote(graph, agent_id, prepared.request.a2a_hops),
            prepared.request.user_text,
            context_id=self._contexts.get(key),
            metadata={"fromAgentId": from_agent_id},
        )
        try:
            async with aclosing(stream):
                async for item in stream:
                    piece = item.text if isinstance(item, A2ADelta) else self._remember(key, item)[len(answer.text) :]
                    if piece:
                        answer.text += piece
                        yield TextDelta(agent_id=agent_id, text=piece)
        except A2AError as exc:
            yield StepFinished(agent_id=agent_id, step=1)
            _replace_transfer_result(transferring, agent_id, f"Error: {exc.detail}")
            yield AgentTransferred(from_agent_id=agent_id, to_agent_id=from_agent_id, reason=exc.detail)
            handoff.failure_note = SystemMessage(
                content=f"<transfer_failed>The transfer to {graph.describe(agent_id)[0]} failed: {exc.detail} "
                "Help the user yourself, or use another of your tools.</transfer_failed>"
            )
            return
        if not answer.text:
            answer.text = "(no answer)"
            yield TextDelta(agent_id=agent_id, text=answer.text)
        yield StepFinished(agent_id=agent_id, step=1)

    async def _ask(
        self, graph: GraphDefinition, conversation_id: str, from_agent_id: str, agent_id: str, message: str, hops: int
    ) -> str:
        key = (graph.tenant_id, graph.project_id, conversation_id, agent_id)
        answer = await self._client.send_message(
            self._remote(graph, agent_id, hops),
            message,
            context_id=self._contexts.get(key),
            metadata={"fromAgentId": from_agent_id},
        )
        return self._remember(key, answer)

    def _remote(self, graph: GraphDefinition, agent_id: str, hops: int) -> RemoteAgent:
        external = graph.external_agents[agent_id]
        headers = {**external.headers, HOPS_HEADER: str(hops + 1)}
        return RemoteAgent(id=agent_id, base_url=external.base_url, headers=headers)

    def _remember(self, key: tuple[str, str, str, str], answer: A2AAnswer) -> str:
        """Keep the answer's remote context for the conversation; return the full answer text."""
        if answer.context_id:
            self._contexts[key] = answer.context_id
            self._contexts.move_to_end(key)
            while len(self._contexts) > self._max_contexts:
                self._contexts.popitem(last=False)
        if answer.state == "input-required":
            return answer.text + _INPUT_REQUIRED_NOTE
        return answer.text


def _replace_transfer_result(outcome: TurnOutcome, target_id: str, error: str) -> None:
    """Record that the transfer tool call failed (its result said "Transferred to ...")."""
    done = f"Transferred to {target_id}."
    for index, message in enumerate(outcome.produced):
        if isinstance(message, ToolResultMessage) and message.content == done:
            outcome.produced[index] = ToolResultMessage(tool_call_id=message.tool_call_id, content=error)
            return
