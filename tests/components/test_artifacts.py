"""Artifacts through the real executor: saved from a real MCP tool result, stored, and read back after a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inkeep_runtime.events import ArtifactSaved, RunCompleted
from inkeep_runtime.store.artifacts import ArtifactStore
from inkeep_runtime.store.engine import Store
from tests.components.docs import CITATION, components_doc
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import SCOPE, agent, executor, kinds, mcp_tool, push, run

pytestmark = pytest.mark.usefixtures("backend")

FULL = {"title": "Refund policy", "url": "https://docs.example.test/refunds", "body": "Refunds within 30 days."}
SUMMARY = {"title": "Refund policy", "url": "https://docs.example.test/refunds"}


def _doc(base_url: str, mcp_url: str) -> dict[str, Any]:
    return components_doc(
        base_url,
        servers={"tools": mcp_tool(mcp_url)},
        tools=["tools"],
        dataComponents=[],
        artifactComponents=["citation"],
    )


def _save(call_id: str = "s1", tool_call_id: str = "c1", **fields: Any) -> Turn:
    arguments = {
        "toolCallId": tool_call_id,
        "type": "Citation",
        "name": "Refund policy",
        "description": "The refund rules.",
        "summary": SUMMARY,
        **fields,
    }
    return Turn.tool_calls([(call_id, "save_artifact", arguments)])


def _reopen(store: Store) -> Store:
    return Store.open(store.engine.url.render_as_string(hide_password=False))


async def test_a_tool_result_is_saved_and_its_summary_streamed(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(store, tmp_path, _doc(fake_llm.base_url, fake_mcp.url))
    fake_llm.add(
        Turn.tool_calls([("c1", "echo", {"text": json.dumps(FULL)})]),
        _save(),
        Turn.text("Refunds are possible within 30 days."),
    )
    async with executor(store) as runner:
        prepared, events = await run(runner, "what is the refund policy?")
    assert {"save_artifact", "get_reference_artifact"} <= set(fake_llm.requests[0].tool_names)
    saved = next(e for e in events if isinstance(e, ArtifactSaved))
    assert saved == ArtifactSaved(
        agent_id="support",
        artifact_id=saved.artifact_id,
        tool_call_id="c1",
        type="Citation",
        name="Refund policy",
        description="The refund rules.",
        summary=SUMMARY,
    )
    assert saved.artifact_id.startswith("art_")
    order = kinds(events)
    assert order.index("ToolCallFinished") < order.index("ArtifactSaved") < order.index("TextDelta")
    assert "save_artifact" not in [getattr(e, "tool_name", None) for e in events], "not shown as a tool part"
    reply = fake_llm.requests[2].messages[-1]
    assert (reply["tool_call_id"], json.loads(reply["content"])) == (
        "s1",
        {"saved": True, "artifactId": saved.artifact_id, "toolCallId": "c1", "type": "Citation"},
    )
    record = await ArtifactStore(store).get(SCOPE, prepared.conversation_id, saved.artifact_id)
    assert record is not None
    assert (record.full, record.summary, record.component_id) == (FULL, SUMMARY, "citation")
    assert isinstance(events[-1], RunCompleted)


async def test_mistakes_come_back_to_the_model_as_tool_errors(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(store, tmp_path, _doc(fake_llm.base_url, fake_mcp.url))
    fake_llm.add(
        _save("s0", tool_call_id="c9"),
        Turn.tool_calls([("c1", "echo", {"text": "not json"})]),
        _save("s1", summary={"title": "Refund policy"}),
        _save("s2", type="Chart"),
        Turn.text("I could not save it."),
    )
    async with executor(store) as runner:
        _, events = await run(runner, "save the policy")
    replies = [request.messages[-1]["content"] for request in fake_llm.requests[1:]]
    assert replies[0].startswith('Error: `toolCallId` "c9" is not a tool call of yours that has returned a result')
    assert replies[2] == (
        "Error: `summary` does not match Citation's summaryProps at '/': 'url' is a required property. "
        "`full` must be a JSON object matching Citation's fullProps (give it explicitly)."
    )
    assert replies[3] == "Error: `type` must be one of: Citation."
    assert not [e for e in events if isinstance(e, ArtifactSaved)]


async def test_full_props_survive_a_restart_and_are_read_back(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(store, tmp_path, _doc(fake_llm.base_url, fake_mcp.url))
    fake_llm.add(Turn.tool_calls([("c1", "echo", {"text": json.dumps(FULL)})]), _save(), Turn.text("Saved."))
    async with executor(store) as runner:
        prepared, events = await run(runner, "find the refund policy")
    artifact_id = next(e for e in events if isinstance(e, ArtifactSaved)).artifact_id
    await store.close()

    restarted = _reopen(store)
    try:
        fake_llm.add(
            Turn.tool_calls([("r1", "get_reference_artifact", {"artifactId": artifact_id})]),
            Turn.text("The policy says: refunds within 30 days."),
        )
        async with executor(restarted) as runner:
            _, events = await run(runner, "what did that policy say?", prepared.conversation_id)
    finally:
        await restarted.close()
    reference = next(t for t in fake_llm.requests[3].tools if t["function"]["name"] == "get_reference_artifact")
    description = reference["function"]["description"]
    assert f"- {artifact_id} (Citation, tool call c1): Refund policy. The refund rules." in description
    assert json.dumps(SUMMARY, separators=(",", ":")) in description
    read = json.loads(fake_llm.requests[4].messages[-1]["content"])
    assert read == {
        "artifactId": artifact_id,
        "toolCallId": "c1",
        "type": "Citation",
        "name": "Refund policy",
        "description": "The refund rules.",
        "summary": SUMMARY,
        "full": FULL,
    }
    assert isinstance(events[-1], RunCompleted)


async def test_another_conversation_cannot_read_the_artifact(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(store, tmp_path, _doc(fake_llm.base_url, fake_mcp.url))
    fake_llm.add(Turn.tool_calls([("c1", "echo", {"text": json.dumps(FULL)})]), _save(), Turn.text("Saved."))
    async with executor(store) as runner:
        _, events = await run(runner, "find the refund policy")
        artifact_id = next(e for e in events if isinstance(e, ArtifactSaved)).artifact_id
        fake_llm.add(
            Turn.tool_calls([("r1", "get_reference_artifact", {"artifactId": artifact_id})]), Turn.text("Nothing.")
        )
        await run(runner, "a new conversation")
    assert fake_llm.requests[4].messages[-1]["content"] == (
        f'Error: there is no artifact "{artifact_id}" in this conversation.'
    )
    reference = next(t for t in fake_llm.requests[3].tools if t["function"]["name"] == "get_reference_artifact")
    assert "No artifacts were saved before this turn." in reference["function"]["description"]


async def test_every_agent_of_the_graph_can_read_but_only_owners_save(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    document = components_doc(fake_llm.base_url, dataComponents=[], artifactComponents=["citation"])
    document["agents"]["router"] = agent("router", canTransferTo=["support"])
    document["defaultAgentId"] = "router"
    await push(store, tmp_path, document)
    fake_llm.add(Turn.text("Hello."))
    async with executor(store) as runner:
        await run(runner, "hi")
    assert "get_reference_artifact" in fake_llm.requests[0].tool_names
    assert "save_artifact" not in fake_llm.requests[0].tool_names
    assert CITATION["name"] == "Citation"
