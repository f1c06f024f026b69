"""One agent's turn: call the model, run the tools it asks for, repeat until it answers or hands off.

The turn knows nothing of HTTP, SQL or other agents: it streams `RunEvent`s for what happened, and
reports in a `TurnOutcome` what the executor needs next (the answer text, a requested transfer, the
messages produced). Tools are run through a `ToolRunner` the executor provides, so delegation (which
runs another agent) stays the executor's business.

Deadlines: a turn never holds a cancel scope across a `yield` (the consumer's task would receive the
timeout). Each await is bounded by `anyio.fail_at(deadline)` on its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from inkeep_runtime.agent.approvals import RunApprovals, denied_output, refuse_unapprovable
from inkeep_runtime.agent.artifacts import ArtifactTools, watch_results
from inkeep_runtime.agent.components import StructuredOutput
from inkeep_runtime.errors import InkeepError, RunDeadlineExceeded, TurnLimitExceeded
from inkeep_runtime.events import (
    DelegationReturned,
    DelegationStarted,
    RunEvent,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from inkeep_runtime.graph.relations import (
    DelegateTarget,
    DeniedTarget,
    FeatureTarget,
    McpTarget,
    ToolCatalog,
    TransferTarget,
)
from inkeep_runtime.llm.client import LLMClient, LLMRequest, TextChunk, ToolCallChunk, UsageChunk
from inkeep_runtime.llm.messages import AssistantMessage, Message, ToolResultMessage
from inkeep_runtime.mcp import ToolResult

__all__ = ["ToolRunner", "TurnOutcome", "TurnSetup", "run_turn"]

_MAX_TOOL_OUTPUT_CHARS = 50_000


class ToolRunner(Protocol):
    """How a turn reaches tools and other agents."""

    async def call_mcp(self, target: McpTarget, arguments: dict[str, Any]) -> ToolResult:
        """Call an MCP tool (failures come back as error results, not exceptions)."""
        ...

    async def delegate(self, target: DelegateTarget, message: str) -> tuple[str, bool]:
        """Run another agent on `message`; return (answer, is_error).

        Raises:
            TurnLimitExceeded: a delegation guard (depth, cycle) stops the run.
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnSetup:
    """Everything one agent's turn needs."""

    agent_id: str
    llm: LLMClient
    model: str
    options: dict[str, Any]
    catalog: ToolCatalog
    step_limit: int
    deadline: float
    """`anyio.current_time()` value by which the whole run must end."""
    tool_limiter: anyio.CapacityLimiter
    allow_transfer: bool = True
    approvals: RunApprovals | None = None
    """The run's approval gate (`agent/approvals.py`); None: no tool needs approval."""
    output: StructuredOutput | None = None
    """The agent's data components (`agent/components.py`); None: it answers in plain text."""
    artifacts: ArtifactTools | None = None
    """The turn's artifact tools (`agent/artifacts.py`); None: the graph has no artifact components."""


@dataclass(slots=True)
class TurnOutcome:
    """What a finished turn leaves behind (filled in as the turn runs, so it is valid after a cancel)."""

    text: str = ""
    """All answer text this agent streamed in this turn."""
    transfer: TransferTarget | None = None
    transfer_reason: str | None = None
    produced: list[Message] = field(default_factory=list)
    """Assistant tool-call messages and tool results of this turn (for later steps and the record)."""
    input_tokens: int = 0
    output_tokens: int = 0
    steps: int = 0


def _truncate(text: str) -> str:
    if len(text) <= _MAX_TOOL_OUTPUT_CHARS:
        return text
    return text[:_MAX_TOOL_OUTPUT_CHARS] + f"\n[truncated {len(text) - _MAX_TOOL_OUTPUT_CHARS} characters]"


async def run_turn(
    setup: TurnSetup, messages: Sequence[Message], tools: ToolRunner, outcome: TurnOutcome
) -> AsyncIterator[RunEvent]:
    """Run one agent until it answers, transfers, or hits a guard.

    Raises:
        TurnLimitExceeded: the step limit was reached, or a delegation guard fired.
        RunDeadlineExceeded: the run deadline passed.
        LLMError: the model failed.
    """
    history = list(messages)
    for step in range(1, setup.step_limit + 1):
        outcome.steps = step
        yield StepStarted(agent_id=setup.agent_id, step=step, model=setup.model)
        tokens_before = (outcome.input_tokens, outcome.output_tokens)
        text_parts: list[str] = []
        calls: list[ToolCallChunk] = []
        async for event in _model_step(setup, history, outcome, text_parts, calls):
            yield event
        yield StepFinished(
            agent_id=setup.agent_id,
            step=step,
            input_tokens=outcome.input_tokens - tokens_before[0],
            output_tokens=outcome.output_tokens - tokens_before[1],
        )
        text = "".join(text_parts)
        if not calls:
            return
        assistant = AssistantMessage(content=text, tool_calls=tuple(call.call for call in calls))
        history.append(assistant)
        outcome.produced.append(assistant)
        transfer = next(
            (
                c
                for c in calls
                if isinstance(setup.catalog.targets.get(c.name), TransferTarget) and setup.allow_transfer
            ),
            None,
        )
        if transfer is not None:
            target = setup.catalog.targets[transfer.name]
            assert isinstance(target, TransferTarget)
            outcome.transfer = target
            reason = transfer.arguments.get("reason")
            outcome.transfer_reason = reason if isinstance(reason, str) and reason else None
            for call in calls:
                note = (
                    f"Transferred to {target.agent_id}." if call is transfer else "Not run: the turn was transferred."
                )
                outcome.produced.append(ToolResultMessage(tool_call_id=call.id, content=note))
            return
        results: dict[str, ToolResultMessage] = {}
        async for event in watch_results(setup.artifacts, _run_tools(setup, calls, tools, results)):
            yield event
        for call in calls:
            history.append(results[call.id])
            outcome.produced.append(results[call.id])
    msg = (
        f"Agent '{setup.agent_id}' reached its step limit (stepCountIs={setup.step_limit}) without answering; "
        "raise stopWhen.stepCountIs or check its tools."
    )
    raise TurnLimitExceeded(msg, limit="stepCountIs", agentId=setup.agent_id)


async def _model_step(
    setup: TurnSetup,
    history: list[Message],
    outcome: TurnOutcome,
    text_parts: list[str],
    calls: list[ToolCallChunk],
) -> AsyncIterator[RunEvent]:
    """One model call: stream its text out, collect its tool calls and usage."""
    request = LLMRequest(model=setup.model, messages=history, tools=setup.catalog.specs, options=setup.options)
    if setup.output is not None:  # data components: a structured answer, streamed item by item
        async for event in setup.output.model_step(setup, request, outcome, text_parts, calls):
            yield event
        return
    async with aclosing(setup.llm.stream(request)) as chunks:
        while True:
            try:
                with anyio.fail_at(setup.deadline):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise _deadline() from exc
            if type(chunk) is TextChunk:
                text_parts.append(chunk.text)
                outcome.text += chunk.text
                yield TextDelta(agent_id=setup.agent_id, text=chunk.text)
            elif type(chunk) is ToolCallChunk:
                calls.append(chunk)
            elif type(chunk) is UsageChunk:
                outcome.input_tokens += chunk.input_tokens
                outcome.output_tokens += chunk.output_tokens


def _deadline() -> RunDeadlineExceeded:
    return RunDeadlineExceeded("The run passed its deadline before finishing; partial output was kept.")


async def _run_tools(
    setup: TurnSetup, calls: list[ToolCallChunk], tools: ToolRunner, results: dict[str, ToolResultMessage]
) -> AsyncIterator[RunEvent]:
    """Announce, run concurrently (bounded), then report every call of one step, in call order."""
    targets = [setup.catalog.targets.get(call.name) for call in calls]
    for call, target in zip(calls, targets, strict=True):
        if isinstance(target, McpTarget | DeniedTarget):
            yield ToolCallStarted(
                agent_id=setup.agent_id,
                call_id=call.id,
                tool_name=call.name,
                arguments=dict(call.arguments),
                tool_id=target.binding.tool_id,
                tool_server_name=target.binding.name,
                server_tool_name=target.tool_name,
            )
        elif isinstance(target, DelegateTarget):
            message = call.arguments.get("message")
            yield DelegationStarted(
                from_agent_id=setup.agent_id,
                to_agent_id=target.agent_id,
                call_id=call.id,
                message=message if isinstance(message, str) else "",
                is_external=target.is_external,
            )
    outputs: dict[str, tuple[Any, bool, str | None]] = {}
    async for event in _approvals(setup, calls, targets, outputs):  # rejected calls get their output here
        yield event
    guard: list[InkeepError] = []

    durations_ms: dict[str, int] = {}

    async def run_one(call: ToolCallChunk, target: Any) -> None:
        async with setup.tool_limiter:
            started = anyio.current_time()
            outputs[call.id] = await _run_one(call, target, tools, guard)
            durations_ms[call.id] = round((anyio.current_time() - started) * 1000)

    try:
        with anyio.fail_at(setup.deadline):
            async with anyio.create_task_group() as group:
                for call, target in _undecided(calls, targets, outputs):
                    group.start_soon(run_one, call, target)
    except TimeoutError as exc:
        raise _deadline() from exc
    if guard:
        raise guard[0]
    for call, target in zip(calls, targets, strict=True):
        output, is_error, error_type = outputs[call.id]
        text = output if isinstance(output, str) else json.dumps(output, default=str)
        results[call.id] = ToolResultMessage(tool_call_id=call.id, content=_truncate(text))
        if isinstance(target, McpTarget | DeniedTarget):
            yield ToolCallFinished(
                agent_id=setup.agent_id,
                call_id=call.id,
                tool_name=call.name,
                output=output,
                is_error=is_error,
                error_type=error_type,
                duration_ms=durations_ms.get(call.id),
            )
        elif isinstance(target, DelegateTarget):
            yield DelegationReturned(
                from_agent_id=setup.agent_id,
                to_agent_id=target.agent_id,
                call_id=call.id,
                result=text,
                is_error=is_error,
            )


async def _approvals(
    setup: TurnSetup, calls: list[ToolCallChunk], targets: list[Any], outputs: dict[str, tuple[Any, bool, str | None]]
) -> AsyncIterator[RunEvent]:
    """Pause for the human decisions this step needs (outside any cancel scope; see module doc)."""
    if setup.approvals is None:
        refuse_unapprovable(calls, targets, outputs)
        return
    async for event in setup.approvals.gate(setup.agent_id, calls, targets, outputs):
        yield event


def _undecided(
    calls: list[ToolCallChunk], targets: list[Any], outputs: dict[str, tuple[Any, bool, str | None]]
) -> list[tuple[ToolCallChunk, Any]]:
    """The calls still to run (an approval rejected or expired already decided the others' output)."""
    return [(call, target) for call, target in zip(calls, targets, strict=True) if call.id not in outputs]


async def _run_one(
    call: ToolCallChunk, target: Any, tools: ToolRunner, guard: list[InkeepError]
) -> tuple[Any, bool, str | None]:
    """Run one call; return (output, is_error, error type in the query-log taxonomy)."""
    if call.arguments_error is not None:
        invalid = f"Error: the arguments were not valid JSON ({call.arguments_error}); call the tool again."
        return invalid, True, "invalid_arguments"
    if isinstance(target, DeniedTarget):
        return denied_output(target), True, "permission_denied"
    if isinstance(target, FeatureTarget):  # artifact tools, run in-process
        answer, failed = await target.handler.call(call.id, target.feature, dict(call.arguments))
        return answer, failed, "invalid_arguments" if failed else None
    if isinstance(target, McpTarget):
        result = await tools.call_mcp(target, dict(call.arguments))
        output: Any = (
            result.structured if result.structured is not None and not result.content_text else result.content_text
        )
        if not result.is_error:
            return output, False, None
        return f"Error: {output}", True, result.error_type or "tool_error"
    if isinstance(target, DelegateTarget):
        message = call.arguments.get("message")
        if not isinstance(message, str) or not message.strip():
            return "Error: delegation needs a non-empty `message` string.", True, "invalid_arguments"
        try:
            answer, is_error = await tools.delegate(target, message)
        except TurnLimitExceeded as exc:
            guard.append(exc)
            return f"Error: {exc.detail}", True, "limit_exceeded"
        return answer, is_error, None
    unknown = f"Error: there is no tool named '{call.name}' available to you; use only the tools you were given."
    return unknown, True, "invalid_arguments"
