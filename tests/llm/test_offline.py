"""OfflineModelClient: the offline demo model's rules, its marker, schema arguments, usage and cancellation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from inkeep_runtime.errors import LLMError
from inkeep_runtime.llm.client import FinishChunk, LLMChunk, LLMClient, LLMRequest, TextChunk, ToolCallChunk, UsageChunk
from inkeep_runtime.llm.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from inkeep_runtime.llm.offline import MARKER, OFFLINE_MODEL, OfflineModelClient, is_offline_model

ROUTER_PROMPT = "You are the first point of contact for customer support. Greet the customer briefly."
BILLING_PROMPT = "You are Billing Specialist, the agent for invoices and refunds."


def transfer(agent_id: str, name: str, description: str) -> ToolSpec:
    return ToolSpec(
        name=f"transfer_to_{agent_id}",
        description=f"Hand off the conversation to agent {agent_id} ({name}): {description}",
        parameters={"type": "object", "properties": {"reason": {"type": "string"}}},
    )


def delegate(agent_id: str, name: str, description: str) -> ToolSpec:
    return ToolSpec(
        name=f"delegate_to_{agent_id}",
        description=f"Delegate a specific task to agent {agent_id} ({name}): {description}",
        parameters={"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
    )


def mcp(name: str, description: str, **properties: Any) -> ToolSpec:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return ToolSpec(name=name, description=description, parameters=schema)


TO_BILLING = transfer("billing", "Billing Specialist", "Answers questions about invoices, charges and refunds.")
TO_TECHNICAL = transfer("technical", "Technical Support", "Diagnoses product problems with the support tools.")
TO_ROUTER = transfer(
    "router",
    "Support Router",
    "Greets the customer and routes the conversation to the right team.\n"
    "Can transfer to: Billing Specialist, Technical Support",
)
ROUTER_TOOLS = (TO_BILLING, TO_TECHNICAL)
TO_ACCOUNTS = delegate("account-lookup", "Account Lookup", "Looks up account facts for the billing specialist.")
STATUS = mcp("service_status", "Reports whether each service is up.", service={"type": "string"})
DIAGNOSTICS = mcp("run_diagnostics", "Runs diagnostics for an error code.", code={"type": "string"})
RESEARCH_TOOLS = (
    delegate("web-researcher", "Web Researcher", "Collects facts and sources for one sub-question."),
    delegate("analyst", "Analyst", "Interprets collected findings: comparisons, trends and caveats."),
    delegate("writer", "Writer", "Turns findings and analysis into a clear answer for the user."),
)


def request(*messages: Message, tools: Sequence[ToolSpec] = (), model: str = OFFLINE_MODEL) -> LLMRequest:
    return LLMRequest(model=model, messages=messages, tools=tools)


async def collect(llm_request: LLMRequest, *, chunk_delay_s: float = 0) -> list[LLMChunk]:
    client: LLMClient = OfflineModelClient(chunk_delay_s=chunk_delay_s)
    async with aclosing(client.stream(llm_request)) as stream:
        return [chunk async for chunk in stream]


def text_of(chunks: list[LLMChunk]) -> str:
    return "".join(chunk.text for chunk in chunks if isinstance(chunk, TextChunk))


def calls_of(chunks: list[LLMChunk]) -> list[ToolCallChunk]:
    return [chunk for chunk in chunks if isinstance(chunk, ToolCallChunk)]


def finish_of(chunks: list[LLMChunk]) -> str:
    finishes = [chunk.finish_reason for chunk in chunks if isinstance(chunk, FinishChunk)]
    assert len(finishes) == 1
    return finishes[0]


def call(call_id: str, name: str, **arguments: Any) -> AssistantMessage:
    return AssistantMessage(tool_calls=(ToolCall(id=call_id, name=name, arguments=arguments),))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("mock/inkeep-demo", True), ("mock/anything", True), ("MOCK/x", True), ("mock/", False), ("openai/gpt", False)],
)
def test_is_offline_model_accepts_mock_names(name: str, expected: bool) -> None:
    assert is_offline_model(name) is expected


def test_default_offline_model_is_an_offline_model() -> None:
    assert is_offline_model(OFFLINE_MODEL)


async def test_rejects_a_model_that_is_not_offline() -> None:
    with pytest.raises(LLMError, match="'openai/gpt-4o' is not an offline model"):
        await collect(request(UserMessage(content="hi"), model="openai/gpt-4o"))


async def test_plain_answer_streams_marked_text_in_several_chunks() -> None:
    chunks = await collect(request(SystemMessage(content=ROUTER_PROMPT), UserMessage(content="How do I reset it?")))

    texts = [chunk for chunk in chunks if isinstance(chunk, TextChunk)]
    assert len(texts) > 3
    assert all(len(chunk.text.split()) <= 3 for chunk in texts)
    assert text_of(chunks).startswith(MARKER)
    assert "“How do I reset it?”" in text_of(chunks)
    assert finish_of(chunks) == "stop"
    assert isinstance(chunks[-1], UsageChunk)


@pytest.mark.parametrize(
    "prompt",
    [BILLING_PROMPT, "Agent: Billing Specialist\nHelp with invoices.", "<agent_name>Billing Specialist</agent_name>"],
)
async def test_answer_names_the_agent_from_the_system_prompt(prompt: str) -> None:
    chunks = await collect(request(SystemMessage(content=prompt), UserMessage(content="hello")))

    assert text_of(chunks).startswith(f"{MARKER} Billing Specialist here.")


async def test_answer_without_a_named_agent_says_nobody_is_speaking() -> None:
    chunks = await collect(request(SystemMessage(content=ROUTER_PROMPT), UserMessage(content="hello")))

    assert " here." not in text_of(chunks)


async def test_billing_words_transfer_to_billing() -> None:
    chunks = await collect(
        request(UserMessage(content="I was charged twice and need a refund"), tools=(TO_TECHNICAL, TO_BILLING))
    )

    [transfer_call] = calls_of(chunks)
    assert transfer_call.name == "transfer_to_billing"
    assert transfer_call.id == "call_1"
    assert transfer_call.arguments == {"reason": "The user asked: I was charged twice and need a refund"}
    assert text_of(chunks) == ""
    assert finish_of(chunks) == "tool_calls"


async def test_technical_words_transfer_to_technical() -> None:
    chunks = await collect(request(UserMessage(content="The app crashes with an error"), tools=ROUTER_TOOLS))

    assert [c.name for c in calls_of(chunks)] == ["transfer_to_technical"]


async def test_transfer_falls_back_to_word_overlap_with_the_description() -> None:
    tools = (
        transfer("returns", "Returns", "Handles product returns and exchanges."),
        transfer("shipping", "Shipping", "Tracks parcels and delivery dates."),
    )
    chunks = await collect(request(UserMessage(content="Where is my parcel?"), tools=tools))

    assert [c.name for c in calls_of(chunks)] == ["transfer_to_shipping"]


async def test_transfer_without_reason_parameter_sends_no_reason() -> None:
    bare = ToolSpec(name="transfer_to_billing", description="Billing Specialist: invoices and refunds.")
    chunks = await collect(request(UserMessage(content="invoice question"), tools=(bare,)))

    assert calls_of(chunks)[0].arguments == {}


async def test_no_match_means_no_transfer() -> None:
    chunks = await collect(request(UserMessage(content="Hello there"), tools=ROUTER_TOOLS))

    assert calls_of(chunks) == []
    assert text_of(chunks).startswith(MARKER)
    assert finish_of(chunks) == "stop"


async def test_transferred_agent_delegates_instead_of_transferring_back() -> None:
    messages = (
        SystemMessage(content=BILLING_PROMPT),
        UserMessage(content="I need a refund for my invoice"),
        call("call_1", "transfer_to_billing", reason="refund"),
        ToolResultMessage(tool_call_id="call_1", content="Transferred to billing."),
    )
    chunks = await collect(request(*messages, tools=(TO_ROUTER, TO_ACCOUNTS)))

    [delegation] = calls_of(chunks)
    assert delegation.name == "delegate_to_account-lookup"
    assert delegation.arguments == {"message": "I need a refund for my invoice"}
    assert delegation.id == "call_2"


async def test_transfer_context_note_prevents_ping_pong() -> None:
    messages = (
        SystemMessage(content=BILLING_PROMPT),
        UserMessage(content="Billing or technical, whatever: my invoice"),
        UserMessage(content="<transfer_context> The user asked about billing. </transfer_context>"),
    )
    chunks = await collect(request(*messages, tools=(TO_ROUTER,)))

    assert calls_of(chunks) == []
    assert "“Billing or technical, whatever: my invoice”" in text_of(chunks)


async def test_user_note_right_after_a_transfer_is_not_the_users_question() -> None:
    messages = (
        UserMessage(content="My invoice is wrong"),
        call("call_1", "transfer_to_billing"),
        ToolResultMessage(tool_call_id="call_1", content="Transferred."),
        UserMessage(content="Continue helping the user with billing."),
    )
    chunks = await collect(request(*messages, tools=(TO_ROUTER, TO_BILLING)))

    assert calls_of(chunks) == []
    assert "“My invoice is wrong”" in text_of(chunks)


@pytest.mark.parametrize(
    "messages",
    [
        (SystemMessage(content="You were transferred from the router."), UserMessage(content="invoice please")),
        (UserMessage(content="invoice please"), SystemMessage(content="Transfer from router: billing question.")),
    ],
)
async def test_system_transfer_notes_prevent_ping_pong(messages: tuple[Message, ...]) -> None:
    chunks = await collect(request(*messages, tools=(TO_ROUTER, TO_BILLING)))

    assert calls_of(chunks) == []


NOTE = SystemMessage(
    content="<transfer_context>Support Router transferred this conversation to you. Reason: refund. "
    "Continue helping the user from here.</transfer_context>"
)
HISTORY = (UserMessage(content="hello"), AssistantMessage(content="Hi, how can I help?"))


@pytest.mark.parametrize(
    "messages",
    [
        (SystemMessage(content=BILLING_PROMPT), *HISTORY, UserMessage(content="my invoice"), NOTE),
        (SystemMessage(content=BILLING_PROMPT), NOTE, *HISTORY, UserMessage(content="my invoice")),
        (SystemMessage(content=BILLING_PROMPT), *HISTORY, NOTE, UserMessage(content="my invoice")),
    ],
    ids=["after-user-message", "in-prompt", "before-user-message"],
)
async def test_transfer_context_system_note_prevents_ping_pong_wherever_it_sits(messages: tuple[Message, ...]) -> None:
    chunks = await collect(request(*messages, tools=(TO_ROUTER, TO_BILLING)))

    assert calls_of(chunks) == []
    assert "“my invoice”" in text_of(chunks)


async def test_team_prompt_names_the_agent() -> None:
    prompt = ROUTER_PROMPT + '\n\nYou are Support Router, an agent of the team "Customer Support".'
    chunks = await collect(request(SystemMessage(content=prompt), UserMessage(content="hello")))

    assert text_of(chunks).startswith(f"{MARKER} Support Router here.")


async def test_a_new_turn_may_transfer_again() -> None:
    messages = (
        UserMessage(content="The app crashes"),
        call("call_1", "transfer_to_technical"),
        ToolResultMessage(tool_call_id="call_1", content="Transferred."),
        AssistantMessage(content="Try reinstalling."),
        UserMessage(content="Also, my invoice is wrong"),
    )
    chunks = await collect(request(*messages, tools=ROUTER_TOOLS))

    [transfer_call] = calls_of(chunks)
    assert (transfer_call.name, transfer_call.id) == ("transfer_to_billing", "call_2")


async def test_agent_instructions_mentioning_transfers_do_not_count_as_one() -> None:
    prompt = SystemMessage(content="Transfer back to the router if the customer asks about something else.")
    chunks = await collect(request(prompt, UserMessage(content="a refund please"), tools=ROUTER_TOOLS))

    assert [c.name for c in calls_of(chunks)] == ["transfer_to_billing"]


async def test_tool_results_are_summarised_and_the_turn_stops() -> None:
    messages = (
        SystemMessage(content=BILLING_PROMPT),
        UserMessage(content="Is the API down?"),
        call("call_1", "service_status", service="api"),
        ToolResultMessage(tool_call_id="call_1", content="api: operational\nweb: degraded"),
    )
    chunks = await collect(request(*messages, tools=(STATUS, TO_ROUTER)))

    assert calls_of(chunks) == []
    assert text_of(chunks) == (
        f"{MARKER} Billing Specialist here. Here is what I found for “Is the API down?”: "
        "tool service_status returned “api: operational web: degraded”."
    )
    assert finish_of(chunks) == "stop"


async def test_delegation_results_are_quoted_without_their_marker() -> None:
    messages = (
        UserMessage(content="What plan am I on?"),
        call("call_1", "delegate_to_account-lookup", message="What plan am I on?"),
        ToolResultMessage(tool_call_id="call_1", content=f"{MARKER} Plan: Pro, monthly."),
    )
    chunks = await collect(request(*messages, tools=(TO_ACCOUNTS,)))

    assert text_of(chunks).count(MARKER) == 1
    assert "agent account-lookup returned “Plan: Pro, monthly.”" in text_of(chunks)


async def test_long_results_are_shortened_in_the_summary() -> None:
    messages = (
        UserMessage(content="status?"),
        call("call_1", "service_status"),
        ToolResultMessage(tool_call_id="call_1", content="x" * 500),
        ToolResultMessage(tool_call_id="unknown", content="done"),
    )
    text = text_of(await collect(request(*messages, tools=(STATUS,))))

    assert f"“{'x' * 79}…”" in text
    assert "a tool returned “done”" in text


async def test_mcp_tool_is_called_with_arguments_from_its_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "verbose": {"type": "boolean"},
            "level": {"type": "string", "enum": ["low", "high"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "options": {"type": "object", "properties": {"depth": {"type": "integer"}}, "required": ["depth"]},
            "note": {"type": ["string", "null"]},
            "mode": {"anyOf": [{"const": "fast"}, {"type": "null"}]},
            "untyped": {},
            "optional": {"type": "string"},
        },
        "required": ["query", "count", "ratio", "verbose", "level", "tags", "options", "note", "mode", "untyped"],
    }
    tool = ToolSpec(name="search_docs", description="Searches the documentation.", parameters=schema)
    chunks = await collect(request(UserMessage(content="install fails"), tools=(tool,)))

    [mcp_call] = calls_of(chunks)
    assert mcp_call.arguments == {
        "query": "install fails",
        "count": 1,
        "ratio": 1,
        "verbose": True,
        "level": "low",
        "tags": [],
        "options": {"depth": 1},
        "note": "install fails",
        "mode": "fast",
        "untyped": "install fails",
    }
    assert finish_of(chunks) == "tool_calls"


async def test_string_arguments_are_truncated_to_200_characters() -> None:
    chunks = await collect(request(UserMessage(content="a" * 300), tools=(STATUS,)))

    assert calls_of(chunks)[0].arguments == {"service": "a" * 200}


async def test_raw_arguments_are_the_arguments_as_json() -> None:
    chunks = await collect(request(UserMessage(content="hi"), tools=(STATUS,)))

    assert calls_of(chunks)[0].raw_arguments == '{"service": "hi"}'


async def test_best_matching_mcp_tool_is_called() -> None:
    chunks = await collect(request(UserMessage(content="Please run diagnostics"), tools=(STATUS, DIAGNOSTICS)))

    assert [c.name for c in calls_of(chunks)] == ["run_diagnostics"]


async def test_first_mcp_tool_is_called_when_none_matches() -> None:
    chunks = await collect(request(UserMessage(content="hello"), tools=(STATUS, DIAGNOSTICS)))

    assert [c.name for c in calls_of(chunks)] == ["service_status"]


async def test_every_clearly_matching_mcp_tool_is_called_with_unique_ids() -> None:
    chunks = await collect(
        request(UserMessage(content="Run diagnostics and report the service status"), tools=(STATUS, DIAGNOSTICS))
    )

    assert [(c.id, c.name) for c in calls_of(chunks)] == [("call_1", "service_status"), ("call_2", "run_diagnostics")]


async def test_specialist_calls_mcp_tools_before_delegating() -> None:
    messages = (
        UserMessage(content="The app crashes with error E42"),
        call("call_1", "transfer_to_technical"),
        ToolResultMessage(tool_call_id="call_1", content="Transferred."),
    )
    knowledge = delegate("knowledge-base", "Knowledge Base", "Finds documented fixes.")
    chunks = await collect(request(*messages, tools=(TO_ROUTER, knowledge, DIAGNOSTICS)))

    assert [c.name for c in calls_of(chunks)] == ["run_diagnostics"]


async def test_delegates_to_the_best_matching_target() -> None:
    chunks = await collect(request(UserMessage(content="What are the trends in EV sales?"), tools=RESEARCH_TOOLS))

    [delegation] = calls_of(chunks)
    assert delegation.name == "delegate_to_analyst"
    assert delegation.arguments == {"message": "What are the trends in EV sales?"}


async def test_delegates_to_the_first_target_when_none_matches() -> None:
    chunks = await collect(request(UserMessage(content="Tell me about Rome"), tools=RESEARCH_TOOLS))

    assert [c.name for c in calls_of(chunks)] == ["delegate_to_web-researcher"]


async def test_delegates_only_once_per_turn() -> None:
    messages = (
        UserMessage(content="Tell me about Rome"),
        call("call_1", "delegate_to_writer", message="Rome"),
        ToolResultMessage(tool_call_id="call_1", content="Rome is old."),
        AssistantMessage(content="Let me think."),
    )
    chunks = await collect(request(*messages, tools=RESEARCH_TOOLS))

    assert calls_of(chunks) == []
    assert finish_of(chunks) == "stop"


async def test_answers_are_deterministic() -> None:
    llm_request = request(UserMessage(content="I was charged twice"), tools=(*ROUTER_TOOLS, STATUS))

    assert await collect(llm_request) == await collect(llm_request)
    assert await collect(request(UserMessage(content="hi"))) == await collect(request(UserMessage(content="hi")))


async def test_usage_counts_words() -> None:
    chunks = await collect(request(SystemMessage(content="Be brief."), UserMessage(content="two words")))

    usage = chunks[-1]
    assert isinstance(usage, UsageChunk)
    assert usage.input_tokens == 4
    assert usage.output_tokens == len(text_of(chunks).split())


async def test_usage_counts_tool_calls_and_tools() -> None:
    messages = (UserMessage(content="status?"), call("call_1", "service_status", service="api"))
    chunks = await collect(request(*messages, AssistantMessage(content="ok"), tools=(STATUS,)))
    calls = await collect(request(UserMessage(content="status?"), tools=(STATUS,)))

    assert isinstance(chunks[-1], UsageChunk)
    assert chunks[-1].input_tokens == 1 + 3 + 1 + 7  # user, call, text, tool description and name
    assert isinstance(calls[-1], UsageChunk)
    assert calls[-1].output_tokens > 0


async def test_text_is_paced_by_the_chunk_delay() -> None:
    started = time.monotonic()
    chunks = await collect(request(UserMessage(content="hi")), chunk_delay_s=0.01)

    pieces = sum(isinstance(chunk, TextChunk) for chunk in chunks)
    assert time.monotonic() - started >= pieces * 0.01


async def test_cancellation_propagates_while_streaming() -> None:
    received: list[LLMChunk] = []
    client = OfflineModelClient(chunk_delay_s=60)
    started = time.monotonic()
    with anyio.move_on_after(0.05) as scope:
        async with aclosing(client.stream(request(UserMessage(content="hi")))) as stream:
            async for chunk in stream:
                received.append(chunk)

    assert scope.cancelled_caught
    assert received == []
    assert time.monotonic() - started < 1


async def test_cancellation_propagates_before_tool_calls() -> None:
    client = OfflineModelClient(chunk_delay_s=60)
    with anyio.move_on_after(0.05) as scope:
        async with aclosing(client.stream(request(UserMessage(content="refund"), tools=ROUTER_TOOLS))) as stream:
            async for _ in stream:
                pass

    assert scope.cancelled_caught


async def test_consumer_may_stop_early() -> None:
    client = OfflineModelClient(chunk_delay_s=0)
    async with aclosing(client.stream(request(UserMessage(content="hi")))) as stream:
        first = await anext(stream)

    assert isinstance(first, TextChunk)
    assert first.text.startswith("[offline")


async def test_customer_support_walkthrough() -> None:
    """Router transfers, the specialist calls its MCP tool, then answers: the executor's loop, by hand."""
    user = UserMessage(content="Checkout crashes with an error since this morning")
    step1 = await collect(request(SystemMessage(content=ROUTER_PROMPT), user, tools=ROUTER_TOOLS))
    [hand_off] = calls_of(step1)
    history: list[Message] = [
        user,
        AssistantMessage(tool_calls=(hand_off.call,)),
        ToolResultMessage(tool_call_id=hand_off.id, content="Transferred to technical."),
    ]
    prompt = SystemMessage(content="You are Technical Support.")
    step2 = await collect(request(prompt, *history, tools=(TO_ROUTER, STATUS)))
    [status] = calls_of(step2)
    history += [AssistantMessage(tool_calls=(status.call,)), ToolResultMessage(tool_call_id=status.id, content="ok")]
    step3 = await collect(request(prompt, *history, tools=(TO_ROUTER, STATUS)))

    assert (hand_off.name, status.name, status.id) == ("transfer_to_technical", "service_status", "call_2")
    assert text_of(step3).startswith(f"{MARKER} Technical Support here.")
    assert "tool service_status returned “ok”" in text_of(step3)
