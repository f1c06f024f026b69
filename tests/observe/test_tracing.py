"""RunTracer turns a run's events into a span tree; the middleware names request spans by route."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inkeep_runtime.events import (
    AgentTransferred,
    DelegationReturned,
    DelegationStarted,
    Problem,
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
from inkeep_runtime.observe.otel import TracingMiddleware, tracer_provider_from_env
from inkeep_runtime.observe.tracing import RunTracer


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    found = InMemorySpanExporter()
    yield found
    found.clear()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    made = TracerProvider()
    made.add_span_processor(SimpleSpanProcessor(exporter))
    return made


def _run(provider: TracerProvider, events: list[RunEvent], *, capture: bool = False) -> RunTracer:
    tracer = RunTracer(provider.get_tracer("t"), tenant_id="t1", project_id="p1", graph_id="g1", capture=capture)
    for event in events:
        tracer.observe(event)
    return tracer


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


SCRIPT: list[RunEvent] = [
    RunStarted(run_id="r1", conversation_id="c1", graph_id="g1", agent_id="router", model="gpt-x"),
    StepStarted(agent_id="router", step=1),
    StepFinished(agent_id="router", step=1),
    AgentTransferred(from_agent_id="router", to_agent_id="tech", reason="tech question"),
    StepStarted(agent_id="tech", step=1),
    StepFinished(agent_id="tech", step=1),
    ToolCallStarted(agent_id="tech", call_id="k1", tool_name="lookup", arguments={"q": "x", "api_key": "sk-1"}),
    DelegationStarted(from_agent_id="tech", to_agent_id="remote", call_id="k2", message="help", is_external=True),
    ToolCallFinished(agent_id="tech", call_id="k1", tool_name="lookup", output="boom", is_error=True),
    DelegationReturned(from_agent_id="tech", to_agent_id="remote", call_id="k2", result="ok"),
    StepStarted(agent_id="tech", step=2),
    TextDelta(agent_id="tech", text="Hel"),
    TextDelta(agent_id="tech", text="lo"),
    StepFinished(agent_id="tech", step=2),
    Usage(input_tokens=30, output_tokens=7),
    RunCompleted(),
]


def test_a_run_becomes_a_span_tree(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    tracer = _run(provider, SCRIPT)
    spans = exporter.get_finished_spans()
    names = sorted(span.name for span in spans)
    assert names == sorted(
        [
            "invoke_graph g1",
            "invoke_agent router",
            "invoke_agent tech",
            "chat gpt-x",
            "chat gpt-x",
            "chat gpt-x",
            "transfer router -> tech",
            "execute_tool lookup",
            "a2a_call remote",
        ]
    )
    by_name = _by_name(spans)
    run = by_name["invoke_graph g1"]
    assert {span.context.trace_id for span in spans} == {run.context.trace_id}
    assert tracer.trace_id == f"{run.context.trace_id:032x}"
    tech = by_name["invoke_agent tech"]
    assert tech.parent is not None
    assert tech.parent.span_id == run.context.span_id
    tool = by_name["execute_tool lookup"]
    assert tool.parent is not None
    assert tool.parent.span_id == tech.context.span_id
    assert tool.status.status_code is StatusCode.ERROR
    assert "gen_ai.tool.call.arguments" not in (tool.attributes or {})
    for span in spans:
        attributes = span.attributes or {}
        assert attributes["inkeep.tenant_id"] == "t1"
        assert attributes["inkeep.graph_id"] == "g1"
        assert attributes["gen_ai.conversation.id"] == "c1"
    assert (run.attributes or {})["gen_ai.usage.input_tokens"] == 30
    answering = [
        s for s in spans if s.name == "chat gpt-x" and "gen_ai.response.time_to_first_chunk" in (s.attributes or {})
    ]
    assert len(answering) == 1
    assert (by_name["a2a_call remote"].attributes or {})["inkeep.external"] is True


def test_content_capture_redacts_secrets(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    _run(provider, SCRIPT, capture=True)
    tool = _by_name(exporter.get_finished_spans())["execute_tool lookup"]
    captured = str((tool.attributes or {})["gen_ai.tool.call.arguments"])
    assert '"q": "x"' in captured
    assert "sk-1" not in captured


def test_a_failed_run_marks_its_spans(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    problem = Problem(code="llm_error", title="Model failed", status=502, detail="upstream 500")
    _run(provider, [*SCRIPT[:2], RunFailed(problem=problem)])
    by_name = _by_name(exporter.get_finished_spans())
    for name in ("invoke_graph g1", "invoke_agent router", "chat gpt-x"):
        assert by_name[name].status.status_code is StatusCode.ERROR
        assert (by_name[name].attributes or {})["error.type"] == "llm_error"


def test_a_cancelled_run_closes_every_span(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    tracer = _run(provider, SCRIPT[:8])
    assert all(span.name != "invoke_graph g1" for span in exporter.get_finished_spans())
    tracer.close(cancelled=True)
    tracer.close(cancelled=True)
    spans = exporter.get_finished_spans()
    assert len(spans) == 8
    assert (_by_name(spans)["invoke_graph g1"].attributes or {})["inkeep.cancelled"] is True


def test_exporters_come_from_the_standard_variables() -> None:
    assert tracer_provider_from_env({}) is None
    assert tracer_provider_from_env({"OTEL_TRACES_EXPORTER": "none"}) is None
    assert tracer_provider_from_env({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}) is None
    assert tracer_provider_from_env({"OTEL_TRACES_EXPORTER": "console"}) is not None
    made = tracer_provider_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert made is not None
    made.shutdown()
    with pytest.raises(ValueError, match="zipkin"):
        tracer_provider_from_env({"OTEL_TRACES_EXPORTER": "zipkin"})


async def test_request_spans_are_named_by_route(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["itemId"]})

    app = TracingMiddleware(Starlette(routes=[Route("/items/{itemId}", item)]), provider.get_tracer("t"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/items/42")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["GET /items/{itemId}", "GET"]
    assert (spans[0].attributes or {})["http.response.status_code"] == 200
    assert (spans[1].attributes or {})["http.response.status_code"] == 404
