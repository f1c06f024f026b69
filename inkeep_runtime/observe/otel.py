"""OpenTelemetry set-up: the tracer provider from `OTEL_*` variables and the HTTP request span.

**Exporters** come from the standard variables: `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`;
comma-separated), `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (setting one
implies `otlp`), `OTEL_SERVICE_NAME` (default `inkeep-runtime`), `OTEL_SDK_DISABLED`. With none of them
set, tracing is off and costs nothing. Tests pass their own provider with an in-memory exporter.

`TracingMiddleware`, a pure ASGI middleware, opens a server span per request and names it after the
matched route template (`POST /tenants/{tenantId}/.../chat/completions`), so span names stay
low-cardinality. It is the current span while the handler (and its stream) runs, so run spans
(`observe/tracing.py`) and query logs share its trace id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import NoOpTracer, SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TracingMiddleware", "capture_content", "tracer_of", "tracer_provider_from_env"]

_TRUTHY: Final = {"1", "true", "yes", "on"}
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
