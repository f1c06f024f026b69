"""OpenTelemetry traces of runs, built from the run's own events (set-up and request spans: `otel.py`).

* **Everything inside a run** (graph run, agent turn, model call, MCP tool call, transfer, delegation,
  A2A call, context fetch): `RunTracer` turns the `RunEvent`s the executor already yields into spans
  with explicit start and end times. Nothing on the token path opens a span or a context: a text
  delta costs one attribute check. Spans are never made "current" across a `yield` (async
  generators would detach contexts in the wrong task); parents are passed explicitly.

Every span carries `inkeep.tenant_id`, `inkeep.project_id`, `inkeep.graph_id` and
`gen_ai.conversation.id`; model and tool spans follow the gen_ai semantic conventions
(`chat {model}`, `execute_tool {tool}`, `invoke_agent {agent}`, token usage, time to first chunk).

**No content by default.** Prompts, answers, tool arguments and results are not recorded. With
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` tool arguments and delegation messages are
added, redacted by `inkeep_runtime.secrets.redact` and truncated. Secrets never reach a span.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from inkeep_runtime.events import (
    AgentTransferred,
    ContextFetched,
    DelegationReturned,
    DelegationStarted,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from inkeep_runtime.graph.contract import PreparedRun, Runner, RunTarget
from inkeep_runtime.protocols.requests import RunRequest
from inkeep_runtime.secrets import redact

__all__ = ["RunTracer", "TracingRunner"]

_MAX_CONTENT: Final = 2_000


@dataclass(slots=True)
class _Model:
    span: Span
    started: float
    first_chunk: bool = False


@dataclass(slots=True)
class RunTracer:
    """Spans of one run, fed its events in order (`observe(event)`), closed by `close()`."""

    tracer: Tracer
    tenant_id: str
    project_id: str
    graph_id: str
    capture: bool = False
    _common: dict[str, str] = field(default_factory=dict)
    _run: Span | None = None
    _run_ctx: otel_context.Context | None = None
    _agent: Span | None = None
    _agent_ctx: otel_context.Context | None = None
    _agent_id: str = ""
    _model_name: str = ""
    _model: _Model | None = None
    _tools: dict[str, tuple[Span, int]] = field(default_factory=dict)
    """Open tool spans by call id, with their start time (ns)."""
    _approvals: dict[str, Span] = field(default_factory=dict)
    _delegated: dict[str, _Model] = field(default_factory=dict)
    """Model calls of delegated agents, by agent id."""
    _delegations: dict[str, Span] = field(default_factory=dict)
    _ended: bool = False

    @property
    def trace_id(self) -> str | None:
        """The run's trace id (32 hex digits), once the run span exists and is sampled."""
        context = self._run.get_span_context() if self._run is not None else None
        return f"{context.trace_id:032x}" if context is not None and context.is_valid else None

    @property
    def span_id(self) -> str | None:
        """The run span's id (16 hex digits)."""
        context = self._run.get_span_context() if self._run is not None else None
        return f"{context.span_id:016x}" if context is not None and context.is_valid else None

    def observe(self, event: RunEvent) -> None:
        """Account for one event (cheap for text deltas)."""
        if type(event) is TextDelta:
            model = self._model
            if model is not None and not model.first_chunk:
                model.first_chunk = True
                model.span.set_attribute("gen_ai.response.time_to_first_chunk", time.monotonic() - model.started)
            return
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def observe_delegated(self, event: RunEvent) -> None:
        """Account for an event of a delegated agent (its model and tool calls nest under the delegation)."""
        if type(event) is StepStarted:
            model = event.model or self._model_name
            span = self.tracer.start_span(
                f"chat {model}",
                context=self._delegation_ctx(),
                kind=SpanKind.CLIENT,
                attributes={
                    **self._common,
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": model,
                    "gen_ai.agent.id": event.agent_id,
                },
            )
            previous = self._delegated.pop(event.agent_id, None)
            if previous is not None:
                previous.span.end()
            self._delegated[event.agent_id] = _Model(span=span, started=time.monotonic())
        elif type(event) is StepFinished:
            found = self._delegated.pop(event.agent_id, None)
            if found is not None:
                _set_usage(found.span, event)
                found.span.end()
        elif type(event) is ToolCallStarted:
            self._tool_started(event, delegated=True)
        elif type(event) is ToolCallFinished:
            self._tool_finished(event)

    def _delegation_ctx(self) -> otel_context.Context | None:
        if not self._delegations:
            return self._agent_ctx
        return trace.set_span_in_context(next(reversed(self._delegations.values())))

    def close(self, *, cancelled: bool = False) -> None:
        """End every open span (the run was cancelled when no terminal event came)."""
        if self._ended:
            return
        self._ended = True
        model = [self._model.span] if self._model is not None else []
        outer = [span for span in (self._agent, self._run) if span is not None]
        inner = [
            *(s for s, _ in self._tools.values()),
            *self._approvals.values(),
            *(m.span for m in self._delegated.values()),
        ]
        for span in [*inner, *self._delegations.values(), *model, *outer]:
            if cancelled:
                span.set_attribute("inkeep.cancelled", True)
            span.end()

    # Event handlers -----------------------------------------------------------------------------

    def _started(self, event: RunStarted) -> None:
        self._common = {
            "inkeep.tenant_id": self.tenant_id,
            "inkeep.project_id": self.project_id,
            "inkeep.graph_id": self.graph_id,
            "gen_ai.conversation.id": event.conversation_id,
        }
        self._model_name = event.model
        self._run = self.tracer.start_span(
            f"invoke_graph {self.graph_id}",
            attributes={**self._common, "inkeep.run_id": event.run_id, "gen_ai.operation.name": "invoke_agent"},
        )
        self._run_ctx = trace.set_span_in_context(self._run)
        self._enter_agent(event.agent_id)

    def _enter_agent(self, agent_id: str) -> None:
        if self._agent is not None:
            self._agent.end()
        self._agent_id = agent_id
        self._agent = self.tracer.start_span(
            f"invoke_agent {agent_id}",
            context=self._run_ctx,
            attributes={**self._common, "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": agent_id},
        )
        self._agent_ctx = trace.set_span_in_context(self._agent)

    def _step_started(self, event: StepStarted) -> None:
        if event.agent_id != self._agent_id:
            self._enter_agent(event.agent_id)
        model = event.model or self._model_name
        span = self.tracer.start_span(
            f"chat {model}",
            context=self._agent_ctx,
            kind=SpanKind.CLIENT,
            attributes={
                **self._common,
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.agent.id": event.agent_id,
                "inkeep.step": event.step,
            },
        )
        self._model = _Model(span=span, started=time.monotonic())

    def _step_finished(self, event: StepFinished) -> None:
        model, self._model = self._model, None
        if model is None:
            return
        _set_usage(model.span, event)
        model.span.end()

    def _tool_started(self, event: ToolCallStarted, *, delegated: bool = False) -> None:
        attributes: dict[str, Any] = {
            **self._common,
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": event.tool_name,
            "gen_ai.tool.call.id": event.call_id,
            "gen_ai.agent.id": event.agent_id,
        }
        if event.tool_id:
            attributes["inkeep.tool_id"] = event.tool_id
        if self.capture:
            attributes["gen_ai.tool.call.arguments"] = _content(redact(event.arguments))
        started = time.time_ns()
        span = self.tracer.start_span(
            f"execute_tool {event.tool_name}",
            context=self._delegation_ctx() if delegated else self._agent_ctx,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=started,
        )
        self._tools[event.call_id] = (span, started)

    def _tool_finished(self, event: ToolCallFinished) -> None:
        found = self._tools.pop(event.call_id, None)
        if found is None:
            return
        span, started = found
        if event.is_error:
            span.set_status(Status(StatusCode.ERROR, "tool error"))
            span.set_attribute("error.type", event.error_type or "tool_error")
        # Results of one step are reported together; the call's own duration gives its true end.
        ended = started + event.duration_ms * 1_000_000 if event.duration_ms is not None else None
        span.end(end_time=ended)

    def _approval_requested(self, event: ToolApprovalRequested) -> None:
        self._approvals[event.call_id] = self.tracer.start_span(
            f"tool_approval {event.tool_name}",
            context=self._agent_ctx,
            attributes={**self._common, "gen_ai.tool.call.id": event.call_id, "inkeep.tool_id": event.tool_id},
        )

    def _approval_resolved(self, event: ToolApprovalResolved) -> None:
        span = self._approvals.pop(event.call_id, None)
        if span is not None:
            span.set_attribute("inkeep.approval.decision", event.decision)
            span.end()

    def _context_fetched(self, event: ContextFetched) -> None:
        ended = time.time_ns()
        span = self.tracer.start_span(
            f"context_fetch {event.name}",
            context=self._agent_ctx or self._run_ctx,
            kind=SpanKind.CLIENT,
            start_time=ended - int(event.duration_ms * 1_000_000),
            attributes={
                **self._common,
                "inkeep.context.variable": event.name,
                "inkeep.context.trigger": event.trigger,
                "inkeep.context.cached": event.cached,
            },
        )
        if not event.ok:
            span.set_status(Status(StatusCode.ERROR, "context fetch failed"))
        span.end(end_time=ended)

    def _transferred(self, event: AgentTransferred) -> None:
        span = self.tracer.start_span(
            f"transfer {event.from_agent_id} -> {event.to_agent_id}",
            context=self._agent_ctx,
            attributes={
                **self._common,
                "inkeep.from_agent_id": event.from_agent_id,
                "inkeep.to_agent_id": event.to_agent_id,
            },
        )
        span.end()
        self._enter_agent(event.to_agent_id)

    def _delegation_started(self, event: DelegationStarted) -> None:
        name = f"a2a_call {event.to_agent_id}" if event.is_external else f"delegate {event.to_agent_id}"
        attributes: dict[str, Any] = {
            **self._common,
            "inkeep.from_agent_id": event.from_agent_id,
            "inkeep.to_agent_id": event.to_agent_id,
            "inkeep.external": event.is_external,
            "gen_ai.tool.call.id": event.call_id,
        }
        if self.capture:
            attributes["inkeep.delegation.message"] = _content(event.message)
        kind = SpanKind.CLIENT if event.is_external else SpanKind.INTERNAL
        self._delegations[event.call_id] = self.tracer.start_span(
            name, context=self._agent_ctx, kind=kind, attributes=attributes
        )

    def _delegation_returned(self, event: DelegationReturned) -> None:
        span = self._delegations.pop(event.call_id, None)
        if span is None:
            return
        if event.is_error:
            span.set_status(Status(StatusCode.ERROR, "delegation failed"))
        span.end()

    def _usage(self, event: Usage) -> None:
        if self._run is not None:
            self._run.set_attribute("gen_ai.usage.input_tokens", event.input_tokens)
            self._run.set_attribute("gen_ai.usage.output_tokens", event.output_tokens)

    def _completed(self, event: RunCompleted) -> None:
        if self._run is not None:
            self._run.set_attribute("inkeep.finish_reason", event.finish_reason)
        self.close()

    def _failed(self, event: RunFailed) -> None:
        for span in (self._model.span if self._model else None, self._agent, self._run):
            if span is not None:
                span.set_status(Status(StatusCode.ERROR, event.problem.title))
                span.set_attribute("error.type", event.problem.code)
        self.close()


def _set_usage(span: Span, event: StepFinished) -> None:
    if event.input_tokens or event.output_tokens:
        span.set_attribute("gen_ai.usage.input_tokens", event.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", event.output_tokens)


def _content(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_CONTENT]


_HANDLERS: Final[dict[type, Any]] = {
    RunStarted: RunTracer._started,
    StepStarted: RunTracer._step_started,
    StepFinished: RunTracer._step_finished,
    ToolCallStarted: RunTracer._tool_started,
    ToolCallFinished: RunTracer._tool_finished,
    AgentTransferred: RunTracer._transferred,
    DelegationStarted: RunTracer._delegation_started,
    DelegationReturned: RunTracer._delegation_returned,
    Usage: RunTracer._usage,
    RunCompleted: RunTracer._completed,
    RunFailed: RunTracer._failed,
    ToolApprovalRequested: RunTracer._approval_requested,
    ToolApprovalResolved: RunTracer._approval_resolved,
    ContextFetched: RunTracer._context_fetched,
}


class TracingRunner:
    """A `Runner` that traces every run of the runner it wraps (see `RunTracer`)."""

    def __init__(self, inner: Runner, tracer: Tracer, *, capture: bool = False) -> None:
        self.inner = inner
        """The wrapped runner."""
        self._tracer = tracer
        self._capture = capture

    async def prepare(self, target: RunTarget, request: RunRequest) -> PreparedRun:
        """See `Runner.prepare`."""
        return await self.inner.prepare(target, request)

    async def stream(self, prepared: PreparedRun) -> AsyncIterator[RunEvent]:
        """See `Runner.stream`; spans end with the stream, however it ends."""
        target = prepared.target
        spans = RunTracer(
            self._tracer,
            tenant_id=target.tenant_id,
            project_id=target.project_id,
            graph_id=target.graph_id,
            capture=self._capture,
        )
        observed = prepared.observed_by(spans.observe_delegated)
        events = self.inner.stream(observed)
        finished = False
        try:
            async for event in events:
                spans.observe(event)
                finished = type(event) is RunCompleted or type(event) is RunFailed
                yield event
        finally:
            spans.close(cancelled=not finished)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
