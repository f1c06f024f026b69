"""The example graphs run end to end on the offline model, with the demo MCP server of examples/."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from inkeep_runtime.events import AgentTransferred, DelegationReturned, RunCompleted, ToolCallFinished
from inkeep_runtime.store.engine import Store
from tests.fakes.servers import serve
from tests.graph.harness import TARGET, executor, push, request, text_of

ROOT = Path(__file__).resolve().parents[2]


def _demo_server() -> object:
    spec = importlib.util.spec_from_file_location("support_tools_mcp", ROOT / "examples" / "support_tools_mcp.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.server


@pytest.mark.usefixtures("backend")
async def test_router_transfers_to_technical_which_calls_the_mcp_tool(store: Store, tmp_path: Path) -> None:
    server = _demo_server()
    app = server.streamable_http_app()  # type: ignore[attr-defined]
    async with serve(app) as base_url:
        document = json.loads((ROOT / "graphs" / "customer-support.json").read_text())
        document["id"] = "g"
        document["tools"]["support-tools"]["config"]["mcp"]["server"]["url"] = f"{base_url}/mcp"
        await push(store, tmp_path, document)
        async with executor(store) as runner:
            text = "The dashboard shows an error after the install, help"
            # No profile service runs here: the graph's userProfile variable falls back to its defaultValue.
            prepared = await runner.prepare(TARGET, request(text, request_context={"userId": "ada"}))
            events = [event async for event in runner.stream(prepared)]
    transfer = next(e for e in events if isinstance(e, AgentTransferred))
    assert (transfer.from_agent_id, transfer.to_agent_id) == ("router", "technical")
    tool = next(e for e in events if isinstance(e, ToolCallFinished))
    assert tool.tool_name in {"check_service_status", "run_diagnostics"}
    assert not tool.is_error
    assert "[offline demo model]" in text_of(events)
    assert isinstance(events[-1], RunCompleted)


@pytest.mark.usefixtures("backend")
async def test_research_coordinator_delegates(store: Store, tmp_path: Path) -> None:
    document = json.loads((ROOT / "graphs" / "research.json").read_text())
    document["id"] = "g"
    await push(store, tmp_path, document)
    async with executor(store) as runner:
        prepared = await runner.prepare(TARGET, request("Research the market for electric bikes"))
        events = [event async for event in runner.stream(prepared)]
    returned = next(e for e in events if isinstance(e, DelegationReturned))
    assert not returned.is_error
    assert "[offline demo model]" in returned.result
    assert isinstance(events[-1], RunCompleted)
