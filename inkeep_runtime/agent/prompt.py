"""What the model reads: the system prompt of an agent and the conversation shaped by its history config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inkeep_runtime.context.templates import TemplateRenderer
from inkeep_runtime.graph.definition import AgentDefinition, GraphDefinition
from inkeep_runtime.llm.messages import AssistantMessage, Message, SystemMessage, UserMessage
from inkeep_runtime.store.conversations import MessageRecord

__all__ = ["history_messages", "history_window", "system_prompt", "transfer_note"]


def system_prompt(
    graph: GraphDefinition,
    agent: AgentDefinition,
    *,
    is_delegated: bool = False,
    variables: Mapping[str, Any] | None = None,
    renderer: TemplateRenderer | None = None,
) -> str:
    """The agent's instructions plus who it works with and how to reach them.

    With `variables` (the graph has a context config), the instructions are a template rendered in the
    sandbox with `requestContext` and the context variables (`{{userProfile.name}}`); plain text costs
    nothing extra.

    Raises:
        ContextTemplateError: the instructions use an undefined variable or something the sandbox refuses.
    """
    instructions = agent.instructions
    if variables is not None and renderer is not None:
        instructions = renderer.render(instructions, variables, where=f"the instructions of agent '{agent.id}'")
    lines = [instructions.strip(), "", f'You are {agent.name}, an agent of the team "{graph.name}".']
    if agent.transfers and not is_delegated:
        lines.append("You can hand the conversation to a teammate with a transfer tool when they fit better:")
        lines.extend(f"- {graph.describe(t)[0]} (transfer_to_{t}): {graph.describe(t)[1]}" for t in agent.transfers)
    if agent.delegations:
        lines.append("You can ask a teammate to do a task and get the answer back with a delegate tool:")
        lines.extend(f"- {graph.describe(t)[0]} (delegate_to_{t}): {graph.describe(t)[1]}" for t in agent.delegations)
    if is_delegated:
        lines.append("Another agent delegated a task to you: answer it completely in one reply.")
    return "\n".join(line for line in lines if line is not None).strip()


def history_window(config: Mapping[str, Any]) -> int | None:
    """How many stored messages to read for this agent (None: all)."""
    if config.get("mode") == "none":
        return 1
    limit = config.get("limit")
    return int(limit) if isinstance(limit, int) and limit > 0 else None


def history_messages(records: Sequence[MessageRecord], agent_id: str, config: Mapping[str, Any]) -> list[Message]:
    """Stored user-visible messages as model messages, shaped by `conversationHistoryConfig`.

    - `full` (default): every user message and every agent's answer.
    - `scoped`: user messages and this agent's own answers.
    - `none`: only the newest user message.
    """
    mode = config.get("mode", "full")
    visible = [r for r in records if r.visibility == "user" and r.role in {"user", "assistant"} and r.content]
    if mode == "none":
        users = [r for r in visible if r.role == "user"]
        visible = users[-1:]
    elif mode == "scoped":
        visible = [r for r in visible if r.role == "user" or r.agent_id == agent_id]
    return [
        UserMessage(content=r.content) if r.role == "user" else AssistantMessage(content=r.content) for r in visible
    ]


def transfer_note(graph: GraphDefinition, from_agent_id: str, reason: str | None) -> SystemMessage:
    """The context a transfer target receives."""
    name = graph.describe(from_agent_id)[0]
    because = f" Reason: {reason}" if reason else ""
    return SystemMessage(
        content=f"<transfer_context>{name} transferred this conversation to you.{because} "
        "Continue helping the user from here; do not repeat what was already said.</transfer_context>"
    )
