"""The offline demo model answers with data components when the request's response_format asks for them."""

from __future__ import annotations

import json

from inkeep_runtime.agent.components import StructuredOutput
from inkeep_runtime.graph.definition import DataComponentDefinition
from inkeep_runtime.llm.client import LLMRequest, TextChunk
from inkeep_runtime.llm.messages import SystemMessage, UserMessage
from inkeep_runtime.llm.offline import MARKER, OfflineModelClient
from inkeep_runtime.llm.offline_components import structured_pieces
from tests.components.docs import TICKET

CARD = DataComponentDefinition(
    id=TICKET["id"], name=TICKET["name"], description=TICKET["description"], props=TICKET["props"]
)


async def _answer(request: LLMRequest) -> str:
    chunks = [chunk async for chunk in OfflineModelClient(chunk_delay_s=0).stream(request)]
    return "".join(chunk.text for chunk in chunks if isinstance(chunk, TextChunk))


async def test_the_envelope_has_the_text_answer_then_each_component() -> None:
    base = LLMRequest(
        model="mock/inkeep-demo",
        messages=[
            SystemMessage(content="You are Support Desk."),
            UserMessage(content="Login fails, high impact"),
        ],
    )
    answer = json.loads(await _answer(StructuredOutput("support", [CARD]).prepare(base)))
    text, card = answer["dataComponents"]
    assert text["name"] == "Text"
    assert text["props"]["text"].startswith(f"{MARKER} Support Desk here.")
    assert card == {
        "id": "ticketcard-1",
        "name": "TicketCard",
        "props": {"ticketId": "Login fails, high impact", "priority": "high", "subject": f"{MARKER} subject"},
    }


async def test_without_the_response_format_it_answers_in_text() -> None:
    request = LLMRequest(model="mock/inkeep-demo", messages=[UserMessage(content="hello")])
    assert (await _answer(request)).startswith(MARKER)
    assert (
        structured_pieces({"response_format": {"type": "json_object"}}, answer="x", user_text="y", agent_name=None)
        == []
    )
