"""Data components through the real executor: litellm to a scripted fake model, answers streamed item by item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inkeep_runtime.events import DataComponent, Problem, RunCompleted, RunFailed, TextDelta, ToolCallFinished
from inkeep_runtime.store.engine import Store
from tests.components.docs import components_doc, envelope, pieces, text_item, ticket_item
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.fakes_mcp.fake_mcp import FakeMcpServer
from tests.graph.harness import TARGET, agent, executor, graph_doc, kinds, mcp_tool, push, request, run, stored, text_of

pytestmark = pytest.mark.usefixtures("backend")

ANSWER = envelope(text_item("I opened a ticket for your refund."), ticket_item(), text_item("Anything else?", "t2"))
INVALID_DETAIL = (
    "Item 2 (TicketCard) has invalid props: at '/priority': 'urgent' is not one of ['low', 'normal', 'high']."
)


@pytest.fixture
def backend() -> str:
    """Limits and structured output do not depend on the database (the CRUD and store tests cover both)."""
    return "sqlite"


async def test_each_component_streams_as_soon_as_it_is_complete(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    fake_llm.add(Turn.text(pieces(ANSWER), chunk_delay_s=0.01))
    seen_while_streaming: list[bool] = []
    async with executor(store) as runner:
        prepared = await runner.prepare(TARGET, request("refund please"))
        events = []
        async for event in runner.stream(prepared):
            if isinstance(event, DataComponent):
                seen_while_streaming.append(not fake_llm.requests[0].finished.is_set())
            events.append(event)
    shown = [e for e in events if isinstance(e, TextDelta | DataComponent)]
    component = next(i for i, e in enumerate(shown) if isinstance(e, DataComponent))
    assert len(shown[:component]) > 1, "the first Text item streams while it is being written"
    assert all(isinstance(e, TextDelta) for e in shown[:component])
    assert all(isinstance(e, TextDelta) for e in shown[component + 1 :])
    assert shown[component] == DataComponent(
        agent_id="support",
        id="tk1",
        name="TicketCard",
        props={"ticketId": "T-42", "priority": "high", "subject": "Refund"},
    )
    assert seen_while_streaming == [True], "the component arrived before the model finished its answer"
    assert text_of(events) == "I opened a ticket for your refund.\n\nAnything else?"
    assert isinstance(events[-1], RunCompleted)
    answer = (await stored(store, prepared.conversation_id))[-1]
    assert json.loads(answer.content) == json.loads(ANSWER)


async def test_the_request_carries_the_contract_and_response_format(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    fake_llm.add(Turn.text(ANSWER))
    async with executor(store) as runner:
        await run(runner, "refund please")
    body = fake_llm.requests[0].body
    system = body["messages"][0]["content"]
    assert system.startswith("You are support.")
    assert '{"dataComponents": [{"id": "<unique id>", "name": "<component name>", "props": {...}}, ...]}' in system
    assert '- TicketCard: A support ticket the user can track. Props schema: {"type":"object"' in system
    assert "- Text: Plain text for the user (markdown allowed)." in system
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    branches = response_format["json_schema"]["schema"]["properties"]["dataComponents"]["items"]["anyOf"]
    assert [b["properties"]["name"]["enum"] for b in branches] == [["Text"], ["TicketCard"]]
    assert branches[1]["properties"]["props"]["required"] == ["ticketId", "priority", "subject"]


async def test_response_format_can_be_switched_off(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    document = components_doc(fake_llm.base_url)
    document["modelSettings"]["providerOptions"]["response_format"] = None
    await push(store, tmp_path, document)
    fake_llm.add(Turn.text(ANSWER))
    async with executor(store) as runner:
        _, events = await run(runner, "refund please")
    assert "response_format" not in fake_llm.requests[0].body
    assert isinstance(events[-1], RunCompleted)


async def test_invalid_props_are_retried_once_with_the_error(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    invalid = envelope(text_item("I opened a ticket for your refund."), ticket_item("urgent"))
    fake_llm.add(Turn.text(pieces(invalid)), Turn.text(pieces(ANSWER)))
    async with executor(store) as runner:
        prepared, events = await run(runner, "refund please")
    assert len(fake_llm.requests) == 2
    retry = fake_llm.requests[1].messages
    assert retry[-2]["role"] == "assistant"
    assert retry[-2]["content"] == invalid[: invalid.index('"Refund"}}') + len('"Refund"}}')], "cut at the bad item"
    assert retry[-1]["role"] == "user"
    assert f"Your previous answer could not be shown to the user: {INVALID_DETAIL}" in retry[-1]["content"]
    # The retry repeats the Text item the user already saw: it is not shown twice.
    assert text_of(events) == "I opened a ticket for your refund.\n\nAnything else?"
    assert len([e for e in events if isinstance(e, DataComponent)]) == 1
    assert isinstance(events[-1], RunCompleted)
    assert json.loads((await stored(store, prepared.conversation_id))[-1].content) == json.loads(ANSWER)


async def test_invalid_twice_fails_the_run_with_the_validation_error(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    invalid = envelope(text_item("Opening a ticket."), ticket_item("urgent"))
    fake_llm.add(Turn.text(invalid), Turn.text(invalid))
    async with executor(store) as runner:
        prepared, events = await run(runner, "refund please")
    assert events[-1] == RunFailed(
        problem=Problem(
            code="invalid_model_output",
            title="Invalid Model Output",
            status=502,
            detail=f"Agent 'support' answered with invalid data components, also after one corrected retry: "
            f"{INVALID_DETAIL}",
        )
    )
    assert len(fake_llm.requests) == 2
    assert text_of(events) == "Opening a ticket."
    answer = (await stored(store, prepared.conversation_id))[-1]
    assert answer.is_partial


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (envelope({"id": "x", "name": "Chart", "props": {}}), 'Item 1 names component "Chart", which is not one of'),
        ('{"dataComponents": [{"id": "t1", "name": "Text", "props": {"text": "cut off', "list was closed"),
        ('{"answer": "no list"}', 'The JSON answer has no "dataComponents" list.'),
        ('{"dataComponents": ["just text"]}', 'Item 1 of "dataComponents" is not a JSON object.'),
        (envelope({"id": "t1", "name": "Text", "props": "hello"}), "Item 1 (Text) has no props object."),
    ],
)
async def test_malformed_answers_are_retried(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, answer: str, error: str
) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    fake_llm.add(Turn.text(answer), Turn.text(ANSWER))
    async with executor(store) as runner:
        _, events = await run(runner, "refund please")
    assert error in fake_llm.requests[1].messages[-1]["content"]
    assert isinstance(events[-1], RunCompleted)


async def test_a_prose_answer_is_one_text_item(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    fake_llm.add(Turn.text("Sorry, I only speak prose today."))
    async with executor(store) as runner:
        prepared, events = await run(runner, "hello")
    assert len(fake_llm.requests) == 1
    assert len([e for e in events if isinstance(e, TextDelta)]) > 1
    assert text_of(events) == "Sorry, I only speak prose today."
    answer = (await stored(store, prepared.conversation_id))[-1]
    assert json.loads(answer.content) == json.loads(envelope(text_item("Sorry, I only speak prose today.", "text-1")))


async def test_fenced_json_is_accepted_and_a_missing_id_is_generated(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    await push(store, tmp_path, components_doc(fake_llm.base_url))
    props = {"ticketId": "T-1", "priority": "low", "subject": "Login"}
    fake_llm.add(Turn.text(pieces(f"```json\n{envelope({'name': 'TicketCard', 'props': props})}\n```", 4)))
    async with executor(store) as runner:
        _, events = await run(runner, "hello")
    assert [e for e in events if isinstance(e, DataComponent)] == [
        DataComponent(agent_id="support", id="ticketcard-1", name="TicketCard", props=props)
    ]


async def test_tools_run_first_then_the_structured_answer(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(
        store, tmp_path, components_doc(fake_llm.base_url, servers={"tools": mcp_tool(fake_mcp.url)}, tools=["tools"])
    )
    fake_llm.add(Turn.tool_calls([("c1", "echo", {"text": "T-42"})]), Turn.text(ANSWER))
    async with executor(store) as runner:
        _, events = await run(runner, "refund please")
    assert kinds(events).index("ToolCallFinished") < kinds(events).index("DataComponent")
    assert next(e for e in events if isinstance(e, ToolCallFinished)).output == "T-42"
    assert fake_llm.requests[1].messages[-1] == {"role": "tool", "tool_call_id": "c1", "content": "T-42"}


async def test_ids_reused_across_steps_get_a_suffix(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, fake_mcp: FakeMcpServer
) -> None:
    await push(
        store, tmp_path, components_doc(fake_llm.base_url, servers={"tools": mcp_tool(fake_mcp.url)}, tools=["tools"])
    )
    first = Turn(
        text_chunks=(envelope(ticket_item()),), calls=(("c1", "echo", '{"text": "x"}'),), finish_reason="tool_calls"
    )
    fake_llm.add(first, Turn.text(envelope(ticket_item("low"))))
    async with executor(store) as runner:
        _, events = await run(runner, "refund please")
    assert [e.id for e in events if isinstance(e, DataComponent)] == ["tk1", "tk1-2"]


async def test_a_delegated_agent_answers_with_its_components(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    document = components_doc(fake_llm.base_url)
    document["agents"]["router"] = agent("router", canDelegateTo=["support"])
    document["defaultAgentId"] = "router"
    await push(store, tmp_path, document)
    fake_llm.add(
        Turn.tool_calls([("d1", "delegate_to_support", {"message": "open a ticket"})]),
        Turn.text(ANSWER),
        Turn.text("Done: ticket T-42."),
    )
    async with executor(store) as runner:
        _, events = await run(runner, "refund please")
    result = fake_llm.requests[2].messages[-1]
    assert (result["role"], result["tool_call_id"]) == ("tool", "d1")
    assert json.loads(result["content"]) == json.loads(ANSWER)
    assert not [e for e in events if isinstance(e, DataComponent)]
    assert text_of(events) == "Done: ticket T-42."


async def test_agents_without_components_are_unchanged(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> None:
    await push(store, tmp_path, graph_doc(fake_llm.base_url, [agent("plain")]))
    fake_llm.add(Turn.text('{"dataComponents": []}'))
    async with executor(store) as runner:
        _, events = await run(runner, "hello")
    assert text_of(events) == '{"dataComponents": []}'
    assert "response_format" not in fake_llm.requests[0].body
