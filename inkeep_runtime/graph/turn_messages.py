"""What each agent's model reads in a run.

An agent answering the user reads its system prompt (instructions rendered with the context
variables when the graph has a context config), the stored conversation shaped by its history config,
the answers earlier agents gave in this run (each labelled with the agent's name, so a transfer target
sees what was already said), and, after a transfer, the transfer note. A delegated agent reads only
its system prompt (told it works for another agent) and the delegated message.
"""

from __future__ import annotations

from inkeep_runtime.agent.prompt import history_messages, history_window, system_prompt
from inkeep_runtime.context import TemplateRenderer
from inkeep_runtime.graph.definition import AgentDefinition
from inkeep_runtime.graph.run_state import RunState
from inkeep_runtime.llm.messages import AssistantMessage, Message, SystemMessage, UserMessage
from inkeep_runtime.store.conversations import ConversationStore

__all__ = ["agent_messages", "delegated_messages"]


async def agent_messages(
    conversations: ConversationStore,
    run: RunState,
    agent: AgentDefinition,
    note: Message | None,
    *,
    renderer: TemplateRenderer,
) -> list[Message]:
    """The messages of `agent`'s turn answering the user (`note`: a transfer note to end with)."""
    records = await conversations.messages(run.scope, run.prepared.conversation_id, last=history_window(agent.history))
    messages: list[Message] = [
        SystemMessage(content=system_prompt(run.graph, agent, variables=run.variables, renderer=renderer))
    ]
    messages.extend(history_messages(records, agent.id, agent.history))
    messages.extend(
        AssistantMessage(content=f"[{run.graph.describe(who)[0]}] {outcome.text}")
        for who, outcome in run.answers[:-1]
        if outcome.text
    )
    if note is not None:
        messages.append(note)
    return messages


def delegated_messages(
    run: RunState, agent: AgentDefinition, message: str, *, renderer: TemplateRenderer
) -> list[Message]:
    """The messages of `agent`'s turn doing a task another agent delegated."""
    prompt = system_prompt(run.graph, agent, is_delegated=True, variables=run.variables, renderer=renderer)
    return [SystemMessage(content=prompt), UserMessage(content=message)]
