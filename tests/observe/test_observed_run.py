"""One scripted run with a transfer, a delegation, a failing tool and an approved tool: its query log and spans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes.servers import serve
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import agent, graph_doc, mcp_tool, push
from tests.permissions.helpers import APPROVALS, CRUD, RUN, permit


@pytest.fixture
def backend() -> str:
    """The recorder and the spans do not depend on the database (the query-log tests cover both)."""
    return "sqlite"


async def _poll(http: httpx.AsyncClient, path: str, found: Any) -> Any:
    with anyio.fail_after(15):
        while True:
            response = await http.get(path)
            assert response.status_code == 200, response.text
            if (result := found(response.json())) is not None:
                return result
            await anyio.sleep(0.05)


def _parent(span: ReadableSpan, spans: list[ReadableSpan]) -> str | None:
    if span.parent is None:
        return None
    return next(s.name for s in spans if s.context.span_id == span.parent.span_id)


async def test_a_scripted_run_leaves_the_expected_query_log_and_spans(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    agents = [
        agent("router", canTransferTo=["calc"]),
        agent("calc", tools=["tools"], canDelegateTo=["helper"]),
        agent("helper"),
    ]
    await push(store, tmp_path, graph_doc(fake_llm.base_url, agents, tools={"tools": mcp_tool(fake_mcp.url)}))
    await permit(store, "add", "require_approval", agent_id="calc")
    fake_llm.add(
        Turn.tool_calls([("t1", "transfer_to_calc", {"reason": "math"})]),
        Turn.tool_calls(
            [
                ("c1", "add", {"a": 20, "b": 22}),
                ("c2", "fail", {"message": "disk on fire"}),
                ("d1", "delegate_to_helper", {"message": "check 42"}),
            ]
        ),
        Turn.text("Helper confirms 42."),
        Turn.text("The sum is 42; the other tool failed."),
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(Settings(dev=True), store=store, tracer_provider=provider)
    chat: dict[str, httpx.Response] = {}
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as http:

        async def ask() -> None:
            body = {"model": "m", "messages": [{"role": "user", "content": "add 20 and 22"}]}
            chat["response"] = await http.post(f"{RUN}/v1/chat/completions", json=body)

        async with anyio.create_task_group() as group:
            group.start_soon(ask)
            pending = await _poll(
                http, f"{CRUD}/tool-approvals?status=pending", lambda body: (body["data"] or [None])[0]
            )
            decided = await http.post(f"{APPROVALS}/{pending['toolCallId']}", json={"decision": "approve"})
            assert decided.status_code == 200, decided.text
        response = chat["response"]
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "The sum is 42; the other tool failed."
        conversation_id = response.headers["x-conversation-id"]
        logs = await _poll(http, f"{CRUD}/query-logs", lambda body: body["data"] or None)
        (query,) = logs
        detail = (await http.get(f"{CRUD}/query-logs/{query['id']}")).json()["data"]
        trace = (await http.get(f"{CRUD}/query-logs/{query['id']}/trace")).json()["data"]

    assert detail["status"] == "success"
    assert (detail["entryAgentId"], detail["finalAgentId"]) == ("router", "calc")
    assert (detail["llmCalls"], detail["toolCalls"], detail["toolErrors"]) == (4, 2, 1)
    assert (detail["transfers"], detail["delegations"]) == (1, 1)
    assert detail["conversationId"] == conversation_id
    steps = [(s["kind"], s["agentId"], s.get("targetAgentId"), s["status"]) for s in trace["steps"]]
    assert steps == [
        ("llm_generation", "router", None, "success"),
        ("transfer", "router", "calc", "success"),
        ("llm_generation", "calc", None, "success"),
        ("tool_call_group", "calc", None, "error"),
        ("delegation", "calc", "helper", "success"),
        ("llm_generation", "helper", None, "success"),
        ("delegation_return", "helper", "calc", "success"),
        ("llm_generation", "calc", None, "success"),
    ]
    calls = [
        (c["toolName"], c["permissionMode"], c["approval"], c["success"], c["errorType"])
        for g in trace["toolCallGroups"]
        for c in g["toolCalls"]
    ]
    assert sorted(calls) == [
        ("add", "require_approval", "approved", True, None),
        ("fail", "always_execute", None, False, "tool_error"),
    ]

    finished = list(exporter.get_finished_spans())
    run = next(s for s in finished if s.name == "invoke_graph g")
    spans = [s for s in finished if s.context.trace_id == run.context.trace_id]  # the chat request's trace
    assert detail["traceId"] == f"{run.context.trace_id:032x}"
    tree = sorted((s.name, _parent(s, spans)) for s in spans if not s.name.startswith(("POST", "GET")))
    chat = "POST /tenants/{tenantId}/projects/{projectId}/graphs/{graphId}/v1/chat/completions"
    assert tree == [
        ("chat openai/fake", "delegate helper"),
        ("chat openai/fake", "invoke_agent calc"),
        ("chat openai/fake", "invoke_agent calc"),
        ("chat openai/fake", "invoke_agent router"),
        ("delegate helper", "invoke_agent calc"),
        ("execute_tool add", "invoke_agent calc"),
        ("execute_tool fail", "invoke_agent calc"),
        ("invoke_agent calc", "invoke_graph g"),
        ("invoke_agent router", "invoke_graph g"),
        ("invoke_graph g", chat),
        ("tool_approval add", "invoke_agent calc"),
        ("transfer router -> calc", "invoke_agent router"),
    ]
    failed = next(s for s in spans if s.name == "execute_tool fail")
    assert failed.status.status_code is StatusCode.ERROR
    approval = next(s for s in spans if s.name == "tool_approval add")
    assert (approval.attributes or {})["inkeep.approval.decision"] == "approved"
