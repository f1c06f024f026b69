"""What the client sees when a retry repeats, extends or rewrites what the first attempt already showed."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence

import anyio
import pytest

from inkeep_runtime.agent.components import StructuredOutput
from inkeep_runtime.agent.turn import TurnOutcome, TurnSetup
from inkeep_runtime.events import RunEvent, TextDelta
from inkeep_runtime.graph.relations import ToolCatalog
from inkeep_runtime.llm.client import LLMChunk, LLMRequest, TextChunk, ToolCallChunk
from tests.components.docs import text_item


class _ScriptedLLM:
    """An in-process model answering each call with the next list of text chunks."""

    def __init__(self, answers: Sequence[Sequence[str]]) -> None:
        self.answers = [list(answer) for answer in answers]

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        for piece in self.answers.pop(0):
            yield TextChunk(text=piece)


async def _shown(*answers: Sequence[str]) -> list[str]:
    output = StructuredOutput("a", [])
    setup = TurnSetup(
        agent_id="a",
        llm=_ScriptedLLM(answers),
        model="m",
        options={},
        catalog=ToolCatalog((), {}),
        step_limit=3,
        deadline=anyio.current_time() + 10,
        tool_limiter=anyio.CapacityLimiter(1),
        output=output,
    )
    calls: list[ToolCallChunk] = []
    events: list[RunEvent] = [
        event async for event in output.model_step(setup, LLMRequest(model="m", messages=[]), TurnOutcome(), [], calls)
    ]
    return [event.text for event in events if isinstance(event, TextDelta)]


BROKEN = ['{"dataComponents": [{"id": "t", "name": "Text", "props": {"text": "Hello wor', 'ld"}}, 7']


@pytest.mark.parametrize(
    ("retry", "shown"),
    [
        ('{"dataComponents": [{"id": "t", "name": "Text", "props": {"text": "Hello world"}}]}', []),
        ('{"dataComponents": [{"id": "t", "name": "Text", "props": {"text": "Hello world, again"}}]}', [", again"]),
        ('{"dataComponents": [{"id": "t", "name": "Text", "props": {"text": "Goodbye"}}]}', ["\n\nGoodbye"]),
    ],
)
async def test_a_retry_shows_only_what_is_new(retry: str, shown: list[str]) -> None:
    assert await _shown(BROKEN, [retry]) == ["Hello wor", "ld", *shown]


async def test_text_items_are_set_apart() -> None:
    answer = json.dumps({"dataComponents": [text_item("One.", "a"), text_item("Two.", "b")]})
    assert "".join(await _shown([answer])) == "One.\n\nTwo."
