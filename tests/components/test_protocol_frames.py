"""Data components and saved artifacts on the wire: exact frames of both adapters (events in, payloads out)."""

from __future__ import annotations

import json
from typing import Any

from inkeep_runtime.events import ArtifactSaved, DataComponent, RunStarted, TextDelta
from inkeep_runtime.protocols.openai_sse import OpenAIStreamAdapter
from inkeep_runtime.protocols.vercel_stream import UIMessageStreamAdapter

STARTED = RunStarted(run_id="r1", conversation_id="c1", graph_id="g", agent_id="a")
COMPONENT = DataComponent(agent_id="a", id="tk1", name="TicketCard", props={"priority": "high"})
ARTIFACT = ArtifactSaved(
    agent_id="a",
    artifact_id="art_1",
    tool_call_id="call_1",
    type="Citation",
    name="Refund policy",
    description="The rules.",
    summary={"title": "Refunds"},
)
ARTIFACT_DATA = {
    "artifactId": "art_1",
    "toolCallId": "call_1",
    "name": "Refund policy",
    "description": "The rules.",
    "type": "Citation",
    "artifactSummary": {"title": "Refunds"},
}


def test_vercel_frames_close_the_text_and_use_the_ids_as_part_ids() -> None:
    adapter = UIMessageStreamAdapter(message_id="m1")
    frames = [
        frame
        for event in (STARTED, TextDelta(agent_id="a", text="Hi"), COMPONENT, ARTIFACT)
        for frame in adapter.encode(event)
    ]
    assert [json.loads(frame) for frame in frames[1:]] == [
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Hi"},
        {"type": "text-end", "id": "text-1"},
        {
            "type": "data-component",
            "id": "tk1",
            "data": {"id": "tk1", "name": "TicketCard", "props": {"priority": "high"}},
        },
        {"type": "data-artifact", "id": "art_1", "data": ARTIFACT_DATA},
    ]


def _openai(*, emit_operations: bool) -> list[dict[str, Any]]:
    adapter = OpenAIStreamAdapter(model="m", completion_id="chatcmpl-1", created=1, emit_operations=emit_operations)
    frames = [frame for event in (STARTED, COMPONENT, ARTIFACT) for frame in adapter.encode(event)]
    return [json.loads(frame) for frame in frames]


def test_openai_frames_carry_them_in_content_only_with_emit_operations() -> None:
    contents = [chunk["choices"][0]["delta"].get("content") for chunk in _openai(emit_operations=True)]
    assert contents[-2:] == [
        json.dumps(
            {"type": "data-component", "data": {"id": "tk1", "name": "TicketCard", "props": {"priority": "high"}}},
            separators=(",", ":"),
        ),
        json.dumps({"type": "data-artifact", "data": ARTIFACT_DATA}, separators=(",", ":")),
    ]
    assert len(_openai(emit_operations=False)) == 1, "only the role chunk"
