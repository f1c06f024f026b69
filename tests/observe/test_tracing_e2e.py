"""Traces of a real run: request span → graph run → agents → model calls, tool calls, hops."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import agent, graph_doc, mcp_tool, push

CHAT = "/tenants/t1/projects/p1/graphs/g/v1/chat/completions"


@pytest.fixture
def backend() -> str:
    """Spans do not depend on the database."""
    return "sqlite"


def _parent(span: ReadableSpan, spans: list[ReadableSpan]) -> str | None:
    if span.parent is None:
        return None
    return next(s.name for s in spans if s.context.span_id == span.parent.span_id)


async def test_a_run_with_a_transfer_a_delegation_and_a_tool_is_one_trace(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [
        agent("router", canTransferTo=["calc"]),
        agent("calc", tools=["tools"], canDelegateTo=["helper"]),
        agent("helper"),
    ]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, tools={"tools": mcp_tool(fake_mcp.url)}))
    fake_llm.add(
        Turn.tool_calls([("t1", "transfer_to_calc", {"reason": "math"})]),
        Turn.tool_calls([("c1", "add", {"a": 20, "b": 22}), ("d1", "delegate_to_helper", {"message": "check 42"})]),
        Turn.text("Helper confirms 42."),
        Turn.text("The sum is 42, and the helper agrees."),
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(Settings(dev=True), store=store, tracer_provider=provider)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        body = {"model": "m", "messages": [{"role": "user", "content": "secret plan: add 20 and 22"}]}
        response = await http.post(CHAT, json=body)
        assert response.status_code == 200, response.text
    conversation_id = response.headers["x-conversation-id"]
    spans = list(exporter.get_finished_spans())
    tree = sorted((s.name, _parent(s, spans)) for s in spans)
    assert tree == sorted(
        [
            ("POST /tenants/{tenantId}/projects/{projectId}/graphs/{graphId}/v1/chat/completions", None),
            ("invoke_graph g", "POST /tenants/{tenantId}/projects/{projectId}/graphs/{graphId}/v1/chat/completions"),
            ("invoke_agent router", "invoke_graph g"),
            ("chat openai/fake", "invoke_agent router"),
            ("transfer router -> calc", "invoke_agent router"),
            ("invoke_agent calc", "invoke_graph g"),
            ("chat openai/fake", "invoke_agent calc"),
            ("execute_tool add", "invoke_agent calc"),
            ("delegate helper", "invoke_agent calc"),
            ("chat openai/fake", "delegate helper"),
            ("chat openai/fake", "invoke_agent calc"),
        ]
    )
    assert len({s.context.trace_id for s in spans}) == 1
    for span in spans:
        attributes = dict(span.attributes or {})
        if span.name.startswith(("invoke_", "chat", "execute_tool", "delegate", "transfer")):
            assert attributes["inkeep.tenant_id"] == "t1"
            assert attributes["inkeep.graph_id"] == "g"
            assert attributes["gen_ai.conversation.id"] == conversation_id
        flat = json.dumps(attributes, default=str)
        assert "secret plan" not in flat
        assert "sk-test" not in flat
        assert "check 42" not in flat
    tool = next(s for s in spans if s.name == "execute_tool add")
    assert tool.start_time is not None
    assert tool.end_time is not None
    assert tool.end_time >= tool.start_time
    answering = [
        s
        for s in spans
        if s.name == "chat openai/fake" and "gen_ai.response.time_to_first_chunk" in (s.attributes or {})
    ]
    assert len(answering) == 1  # only the last step streams text (the router and tool steps do not)
