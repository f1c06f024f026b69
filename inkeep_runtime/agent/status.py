"""Status updates: short progress summaries of a long turn, written by a summarizer model off the hot path.

A graph with `statusUpdates` gets, while a turn runs, messages like "Found three open orders" streamed
as `StatusSummary` events (`data-summary` parts on `/api/chat`; `data-summary` JSON in `delta.content`
on `/v1/chat/completions` with `x-emit-operations`). How it stays off the hot path:

* **The turn runs in a pump task.** `with_status_updates` iterates the run's events in a task of its
  own and forwards them, in order, through a memory object stream to the caller; a second task, the
  summarizer, writes into the same stream. So a summary can reach the client while the agent waits for
  a slow tool or model, and answer tokens never wait for a summary: the summarizer only ever *reads*
  what the pump recorded.
* **Recording is synchronous and bounded.** For each event the pump calls `Activity.observe`, which
  appends at most one short line to a bounded deque (text deltas only grow a capped buffer) and wakes
  the summarizer. It never awaits, so a slow or failing summarizer cannot slow the pump down.
* **Triggers** (inkeep-behaviour.md §7.1): a summary is generated once `numEvents` significant events
  (tool calls and results, delegations, transfers, data components, finished answers) arrived since the
  last one, or when `timeInSeconds` passed with at least one new event. Defaults are Inkeep's: 1 event,
  2 seconds. Generations never overlap; events that arrive meanwhile wait for the next one.
* **Endings.** When the run's events end (completed or failed), the summarizer is cancelled and any
  summary not yet delivered is dropped: nothing follows `RunCompleted`. Closing the stream (client
  disconnect) cancels both tasks; the pump closes the run's generator in its own task (`aclosing`), so
  the model call and tool calls are cancelled as before. An exception of the run reaches the caller
  unchanged, after both tasks ended.
* **Failures are not the user's problem.** A summarizer error, timeout or unusable answer is logged
  (without the model's output) and skipped; the answer goes on.

The summarizer model is `statusUpdates.model`, else the graph's `modelSettings.summarizer`, else the
graph's model. It answers JSON (`{"summaries": [{"type", "label", "details"}]}`); each summary's `type`
must name a status component (`statusComponents`, or Inkeep's defaults `retrieve` and `action`) and its
`details` must validate against that component's JSON Schema, else the summary is dropped. The prompt
holds the user's question (Inkeep's [G] fetched it under the wrong id), recent activity without
agents, transfers or delegation mechanics, and the previous summaries.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
from anyio.abc import ObjectSendStream
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from inkeep_runtime.agent.status_config import StatusComponent, StatusUpdatesConfig
from inkeep_runtime.events import (
    AgentTransferred,
    DataComponent,
    DelegationReturned,
    DelegationStarted,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    StatusSummary,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from inkeep_runtime.llm.client import LLMClient, LLMRequest, TextChunk
from inkeep_runtime.llm.messages import SystemMessage, UserMessage

__all__ = ["Activity", "StatusSummarizer", "with_status_updates"]

logger = logging.getLogger(__name__)

_MAX_ACTIVITIES: Final = 30
_MAX_LINE: Final = 300
_MAX_STEP_TEXT: Final = 2_000
_PREVIOUS_KEPT: Final = 3
_STREAM_BUFFER: Final = 16
_QUIET: Final = (RunStarted, StepStarted, Usage, StatusSummary, RunCompleted, RunFailed)


class Activity:
    """What the run did, in short lines for the summarizer; fed synchronously by the pump."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=_MAX_ACTIVITIES)
        self.pending = 0
        """Significant events since the last summary."""
        self._changed = anyio.Event()
        self._step_text: list[str] = []
        self._step_length = 0

    def observe(self, event: RunEvent) -> None:
        """Record one run event (never blocks)."""
        if isinstance(event, TextDelta):
            if self._step_length < _MAX_STEP_TEXT:
                self._step_text.append(event.text)
                self._step_length += len(event.text)
            return
        if isinstance(event, _QUIET):
            if isinstance(event, StepStarted):
                self._step_text, self._step_length = [], 0
            return
        if isinstance(event, StepFinished):
            text = "".join(self._step_text).strip()
            self._step_text, self._step_length = [], 0
            if not text:
                return
            line: str | None = f"Answered so far: {_clip(text)}"
        else:
            line = _describe(event)
        if line is not None:
            self.lines.append(line)
        self.pending += 1
        self._changed.set()
        self._changed = anyio.Event()

    async def changed(self) -> None:
        """Wait for the next significant event."""
        await self._changed.wait()

    def take(self) -> list[str]:
        """The recent activity, marking it as summarized."""
        self.pending = 0
        return list(self.lines)


def _clip(text: str, limit: int = _MAX_LINE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _describe(event: RunEvent) -> str | None:
    """One line for the summarizer, or None for events users should not hear about (transfers)."""
    if isinstance(event, ToolCallStarted):
        return f"Started {event.tool_name} with {_clip(_json(event.arguments))}"
    if isinstance(event, ToolCallFinished):
        outcome = "failed" if event.is_error else "returned"
        return f"{event.tool_name} {outcome}: {_clip(_json(event.output))}"
    if isinstance(event, DelegationStarted):
        return f"Started a sub-task: {_clip(event.message)}"
    if isinstance(event, DelegationReturned):
        return f"A sub-task finished: {_clip(event.result)}"
    if isinstance(event, DataComponent):
        return f"Prepared {event.name}: {_clip(_json(event.props))}"
    if isinstance(event, AgentTransferred):
        return None
    return None


_SYSTEM: Final = """You write short progress updates for a user who waits while an assistant works on their request.
Reply with one JSON object and nothing else: {"summaries": [{"type": "<type>", "label": "<label>", "details": {}}]}.
- Write at most one summary, about what is new since the previous updates; reply {"summaries": []} when \
nothing new is worth telling.
- label: 3 to 7 words, sentence case, stating a finding or an action ("Found three open orders").
- Never mention agents, assistants, transfers, delegations, sub-tasks or artifacts; never invent facts.
Types:
"""


@dataclass(slots=True)
class StatusSummarizer:
    """Writes summaries of a run's activity with the summarizer model."""

    llm: LLMClient
    model: str
    options: Mapping[str, Any]
    config: StatusUpdatesConfig
    question: str
    """The user's message of this turn."""
    timeout_s: float = 30.0
    activity: Activity = field(default_factory=Activity)
    previous: list[str] = field(default_factory=list)
    """Labels already sent."""

    async def run(self, send: ObjectSendStream[RunEvent]) -> None:
        """Summarize whenever a trigger fires, until cancelled (see the module docstring)."""
        last = anyio.current_time()
        while True:
            activity = self.activity
            if activity.pending == 0:
                await activity.changed()
                continue
            if activity.pending < self.config.num_events:
                remaining = last + self.config.time_in_seconds - anyio.current_time()
                if remaining > 0:
                    with anyio.move_on_after(remaining):
                        await activity.changed()
                    continue
            lines = activity.take()
            last = anyio.current_time()
            for summary in await self.summarize(lines):
                if not await _deliver(send, summary):
                    return

    async def summarize(self, lines: Sequence[str]) -> list[StatusSummary]:
        """Ask the model for summaries of `lines`; failures are logged and give none."""
        try:
            with anyio.fail_after(self.timeout_s):
                text = await self._complete(lines)
            summaries = self._parse(text)
        except Exception as exc:  # a summary is a nicety: never let it fail the run (cancellation passes)
            reason = getattr(exc, "detail", None) or type(exc).__name__
            logger.warning("status update skipped: the summarizer %s failed (%s)", self.model, reason)
            return []
        self.previous.extend(summary.label for summary in summaries)
        return summaries

    async def _complete(self, lines: Sequence[str]) -> str:
        types = "\n".join(
            f"- {c.type}: {c.description or 'progress'}"
            + (f" details must match this JSON Schema: {json.dumps(c.details_schema)}" if c.details_schema else "")
            for c in self.config.components
        )
        system = _SYSTEM + types + (f"\n{self.config.prompt}" if self.config.prompt else "")
        previous = "\n".join(f"- {label}" for label in self.previous[-_PREVIOUS_KEPT:]) or "(none)"
        activity = "\n".join(f"- {line}" for line in lines) or "(nothing yet)"
        user = (
            f"User's request: {_clip(self.question, 1_000)}\n\nPrevious updates:\n{previous}\n\nActivity:\n{activity}"
        )
        request = LLMRequest(
            model=self.model, messages=[SystemMessage(content=system), UserMessage(content=user)], options=self.options
        )
        parts: list[str] = []
        async with aclosing(self.llm.stream(request)) as chunks:
            async for chunk in chunks:
                if isinstance(chunk, TextChunk):
                    parts.append(chunk.text)
        return "".join(parts)

    def _parse(self, text: str) -> list[StatusSummary]:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end < start:
            msg = "the answer holds no JSON object"
            raise ValueError(msg)
        items = json.loads(text[start : end + 1]).get("summaries")
        if not isinstance(items, list):
            msg = "the answer has no summaries list"
            raise ValueError(msg)
        components = {component.type: component for component in self.config.components}
        found: list[StatusSummary] = []
        for item in items:
            summary = _summary(item, components)
            if summary is not None and summary.label not in self.previous:
                found.append(summary)
        return found


def _summary(item: Any, components: Mapping[str, StatusComponent]) -> StatusSummary | None:
    """A summary the model wrote, if it is well-formed and its details match the component's schema."""
    if not isinstance(item, dict):
        return None
    kind, label, details = item.get("type"), item.get("label"), item.get("details") or {}
    component = components.get(kind) if isinstance(kind, str) else None
    if component is None or not isinstance(label, str) or not label.strip() or not isinstance(details, dict):
        logger.info("status update dropped: type %r is not a status component, or label/details are malformed", kind)
        return None
    if component.details_schema:
        try:
            errors = sorted(Draft202012Validator(component.details_schema).iter_errors(details), key=str)
        except SchemaError:
            logger.warning("status component %r has an invalid detailsSchema; its summaries are dropped", kind)
            return None
        if errors:
            where = "/".join(str(part) for part in errors[0].absolute_path) or "(root)"
            logger.info("status update dropped: %s details fail the schema at %s: %s", kind, where, errors[0].message)
            return None
    return StatusSummary(type=component.type, label=_clip(label, 200), details=details)


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


_DONE: Final = object()


async def with_status_updates(
    events: AsyncIterator[RunEvent], summarizer: StatusSummarizer
) -> AsyncGenerator[RunEvent, None]:
    """`events` as they come, with the summarizer's summaries in between (see the module docstring).

    Close it with `aclose()` (or `contextlib.aclosing`) in the task that iterates it: it holds a task group.

    Raises:
        Exception: whatever the run's events raised, once both tasks ended.
    """
    send, receive = anyio.create_memory_object_stream[Any](_STREAM_BUFFER)
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(_pump, events, send.clone(), summarizer.activity, name="run events")
        group.start_soon(summarizer.run, send.clone(), name="status updates")
        send.close()
        try:
            async for item in receive:
                if item is _DONE:
                    break
                if isinstance(item, _Failed):
                    failure = item.error
                    break
                try:
                    yield item
                except GeneratorExit:  # aclose(): end both tasks, then end quietly (anyio would wrap it)
                    break
        finally:
            # Reached with the run over, or by aclose()/cancellation: never while suspended at a yield.
            # Cancel first, so no task wakes up to a closed stream.
            group.cancel_scope.cancel()
            receive.close()
    if failure is not None:
        raise failure


async def _pump(events: AsyncIterator[RunEvent], send: ObjectSendStream[Any], activity: Activity) -> None:
    """Forward the run's events (recording each) and then an end marker; errors travel as `_Failed`."""
    async with send, _closing(events) as source:
        try:
            async for event in source:
                activity.observe(event)
                if not await _deliver(send, event):
                    return  # the consumer is gone; leaving the block closes the run's generator here
        except Exception as exc:  # the caller re-raises it; cancellation passes
            await _deliver(send, _Failed(exc))
            return
        await _deliver(send, _DONE)


@asynccontextmanager
async def _closing(events: AsyncIterator[RunEvent]) -> AsyncIterator[AsyncIterator[RunEvent]]:
    """Close the run's generator when done, in this task (its cancel scopes were entered here)."""
    try:
        yield events
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def _deliver(send: ObjectSendStream[Any], item: Any) -> bool:
    """Send `item`; False when the receiving side was closed."""
    try:
        await send.send(item)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        return False
    return True
