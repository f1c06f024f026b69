"""Neutral messages and tool specs ↔ the OpenAI wire form (reference/protocols.md A.1)."""

from __future__ import annotations

from typing import Any

import pytest

from inkeep_runtime.errors import InvalidRequest
from inkeep_runtime.llm.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
    message_from_openai,
    messages_from_openai,
    messages_to_openai,
    tools_to_openai,
)

CONVERSATION: list[Message] = [
    SystemMessage(content="Be brief."),
    UserMessage(content="Weather in SF?"),
    AssistantMessage(
        content="Checking.", tool_calls=(ToolCall(id="call_1", name="weather", arguments={"city": "SF"}),)
    ),
    ToolResultMessage(tool_call_id="call_1", content="Sunny"),
    AssistantMessage(content="It is sunny."),
]
WIRE: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in SF?"},
    {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "SF"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
    {"role": "assistant", "content": "It is sunny."},
]


def test_messages_become_openai_dicts() -> None:
    assert messages_to_openai(CONVERSATION) == WIRE


def test_openai_dicts_become_messages() -> None:
    assert messages_from_openai(WIRE) == CONVERSATION


def test_an_assistant_message_with_only_tool_calls_has_null_content() -> None:
    message = AssistantMessage(tool_calls=(ToolCall(id="c", name="now"),))

    assert messages_to_openai([message])[0]["content"] is None
    assert messages_to_openai([message])[0]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_tools_become_openai_function_tools() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

    assert tools_to_openai(
        [ToolSpec(name="weather", description="Weather.", parameters=schema), ToolSpec(name="now")]
    ) == [
        {"type": "function", "function": {"name": "weather", "description": "Weather.", "parameters": schema}},
        {
            "type": "function",
            "function": {"name": "now", "description": "", "parameters": {"type": "object", "properties": {}}},
        },
    ]


def test_text_parts_and_developer_role_are_read() -> None:
    parts = {"role": "developer", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "kind."}]}

    assert message_from_openai(parts) == SystemMessage(content="Be kind.")


def test_null_assistant_content_reads_as_empty_text() -> None:
    assert message_from_openai({"role": "assistant", "content": None}) == AssistantMessage()


@pytest.mark.parametrize(
    ("data", "pointer"),
    [
        ({"role": "robot", "content": "x"}, "/messages/0/role"),
        ({"role": "user", "content": 3}, "/messages/0/content"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}, "/messages/0/content/0"),
        ({"role": "tool", "content": "x"}, "/messages/0/tool_call_id"),
        ({"role": "assistant", "tool_calls": {}}, "/messages/0/tool_calls"),
        ({"role": "assistant", "tool_calls": [{"id": "c"}]}, "/messages/0/tool_calls/0"),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}]},
            "/messages/0/tool_calls/0/function/arguments",
        ),
        ("hello", "/messages/0"),
    ],
)
def test_malformed_messages_name_the_bad_field(data: Any, pointer: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        messages_from_openai([data])

    assert [error.pointer for error in caught.value.errors] == [pointer]
    assert pointer in caught.value.detail


def test_messages_must_be_an_array() -> None:
    with pytest.raises(InvalidRequest, match="Expected an array of messages"):
        messages_from_openai({"role": "user"})
