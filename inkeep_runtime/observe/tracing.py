"""OpenTelemetry traces of HTTP requests and runs, built from the run's own events.

Where spans come from:

* **HTTP request**: `TracingMiddleware`, a pure ASGI middleware, opens a server span per request and
  names it after the matched route template (`POST /tenants/{tenantId}/.../chat/completions`), so
  span names stay low-cardinality. It is the current span while the handler (and its stream) runs.
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

**Exporters** come from the standard variables: `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`;
comma-separated), `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (setting one
implies `otlp`), `OTEL_SERVICE_NAME` (default `inkeep-runtime`). With none of them set, tracing is off
and costs nothing. Tests pass their own provider with an in-memory exporter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import NoOpTracer, Span, SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inkeep_runtime.events import (
    AgentTransferred,
    DelegationReturned,
    DelegationStarted,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from inkeep_runtime.secrets import redact

__all__ = ["RunTracer", "TracingMiddleware", "capture_content", "tracer_provider_from_env"]

_TRUTHY: Final = {"1", "true", "yes", "on"}
_MAX_CONTENT: Final = 2_000
_INSTRUMENTATION: Final = "inkeep_runtime"


def tracer_provider_from_env(environment: Mapping[str, str]) -> TracerProvider | None:
    """A provider exporting where the `OTEL_*` variables say, or None when tracing is off."""
    names = {n.strip().lower() for n in environment.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()}
    if not names and (
        environment.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environment.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        names = {"otlp"}
    names.discard("none")
    if not names or environment.get("OTEL_SDK_DISABLED", "").lower() in _TRUTHY:
        return None
    resource = Resource.create({"service.name": environment.get("OTEL_SERVICE_NAME") or "inkeep-runtime"})
    provider = TracerProvider(resource=resource)
    for name in sorted(names):
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    return provider


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_* itself
    msg = f"OTEL_TRACES_EXPORTER={name!r} is not supported; expected otlp, console or none."
    raise ValueError(msg)


def capture_content(environment: Mapping[str, str]) -> bool:
    """Whether spans may carry tool arguments and messages (off unless asked for)."""
    return environment.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").lower() in _TRUTHY


def tracer_of(provider: TracerProvider | None) -> Tracer:
    """The runtime's tracer from `provider` (a no-op tracer when tracing is off)."""
    return provider.get_tracer(_INSTRUMENTATION) if provider is not None else NoOpTracer()


class TracingMiddleware:
    """One server span per HTTP request, current while the handler and its stream run."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self._tracer = tracer
        self._enabled = not isinstance(tracer, NoOpTracer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._enabled:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        attributes = {"http.request.method": method, "url.path": scope["path"]}
        with self._tracer.start_as_current_span(method, kind=SpanKind.SERVER, attributes=attributes) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status[0])
                    if status[0] >= 500:
                        span.set_status(Status(StatusCode.ERROR))


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
    _tools: dict[str, Span] = field(default_factory=dict)
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

    def close(self, *, cancelled: bool = False) -> None:
        """End every open span (the run was cancelled when no terminal event came)."""
        if self._ended:
            return
        self._ended = True
        model = [self._model.span] if self._model is not None else []
        outer = [span for span in (self._agent, self._run) if span is not None]
        for span in [*self._tools.values(), *self._delegations.values(), *model, *outer]:
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
        model = getattr(event, "model", "") or self._model_name
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
        for name, attribute in (
            ("input_tokens", "gen_ai.usage.input_tokens"),
            ("output_tokens", "gen_ai.usage.output_tokens"),
        ):
            value = getattr(event, name, None)
            if isinstance(value, int):
                model.span.set_attribute(attribute, value)
        model.span.end()

    def _tool_started(self, event: ToolCallStarted) -> None:
        attributes: dict[str, Any] = {
            **self._common,
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": event.tool_name,
            "gen_ai.tool.call.id": event.call_id,
            "gen_ai.agent.id": event.agent_id,
        }
        if self.capture:
            attributes["gen_ai.tool.call.arguments"] = _content(redact(event.arguments))
        self._tools[event.call_id] = self.tracer.start_span(
            f"execute_tool {event.tool_name}", context=self._agent_ctx, kind=SpanKind.CLIENT, attributes=attributes
        )

    def _tool_finished(self, event: ToolCallFinished) -> None:
        span = self._tools.pop(event.call_id, None)
        if span is None:
            return
        if event.is_error:
            span.set_status(Status(StatusCode.ERROR, "tool error"))
            span.set_attribute("error.type", "tool_error")
        span.end()

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
}
