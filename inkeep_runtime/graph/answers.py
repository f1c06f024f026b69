"""Storing what a run's agents said, once the run ends.

Every agent turn of a run leaves a `TurnOutcome` in `RunState.answers`. When the run ends, however it
ends (completion, failure, client disconnect), the executor calls `save_answers` in its `finally`:
each turn's tool calls and tool results become internal messages, its text a visible assistant
message (partial unless the run completed), and the conversation's active agent is updated, all in
one append. A store failure is logged, not raised: the run's events have already been sent.
"""

from __future__ import annotations

import logging

from inkeep_runtime.graph.run_state import RunState
from inkeep_runtime.llm.messages import AssistantMessage, Message, ToolResultMessage
from inkeep_runtime.store.conversations import ConversationStore, NewMessage

__all__ = ["save_answers"]

logger = logging.getLogger(__name__)


async def save_answers(conversations: ConversationStore, run: RunState) -> None:
    """Store what the agents said (partial unless completed) and who is active now."""
    messages: list[NewMessage] = []
    for agent_id, outcome in run.answers:
        for produced in outcome.produced:
            messages.append(_internal(produced, agent_id, run.prepared.run_id))
        if outcome.text:
            messages.append(
                NewMessage(
                    role="assistant",
                    content=outcome.text,
                    agent_id=agent_id,
                    is_partial=not run.completed,
                    run_id=run.prepared.run_id,
                )
            )
    try:
        await conversations.append(
            run.scope, run.prepared.conversation_id, messages, active_agent_id=run.active_agent_id
        )
    except Exception:
        logger.exception("could not store the answer of run %s", run.prepared.run_id)


def _internal(message: Message, agent_id: str, run_id: str) -> NewMessage:
    """A tool call or tool result of a turn, as an internal (not user-visible) message."""
    if isinstance(message, AssistantMessage):
        calls = [{"id": c.id, "name": c.name, "arguments": dict(c.arguments)} for c in message.tool_calls]
        return NewMessage(
            role="assistant",
            content=message.content,
            agent_id=agent_id,
            visibility="internal",
            message_type="tool-call",
            tool_calls=calls,
            run_id=run_id,
        )
    assert isinstance(message, ToolResultMessage), f"unexpected message in a turn's output: {type(message).__name__}"
    return NewMessage(
        role="tool",
        content=message.content,
        agent_id=agent_id,
        visibility="internal",
        message_type="tool-result",
        tool_call_id=message.tool_call_id,
        run_id=run_id,
    )
