"""Parsing the chat bodies into a `RunRequest`: both endpoints, both AI SDK generations, and every 400."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import Headers

from inkeep_runtime.errors import InvalidRequest
from inkeep_runtime.protocols.requests import (
    HistoryMessage,
    RunOptions,
    RunRequest,
    parse_chat_completions,
    parse_ui_chat,
)


def pointers(error: pytest.ExceptionInfo[InvalidRequest]) -> list[str]:
    return [item.pointer for item in error.value.errors]


# --- /v1/chat/completions ----------------------------------------------------------------------


def test_openai_body_becomes_a_run_request() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Weather?"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "max_tokens": 100,
        "user": "u-1",
        "conversationId": "conv-1",
        "requestContext": {"tz": "UTC"},
    }
    request = parse_chat_completions(body, {})
    assert request == RunRequest(
        conversation_id="conv-1",
        user_text="Weather?",
        history=(
            HistoryMessage(role="system", text="Be brief."),
            HistoryMessage(role="user", text="Hi"),
            HistoryMessage(role="assistant", text="Hello!"),
        ),
        request_context={"tz": "UTC"},
        is_streaming=True,
        include_usage=True,
        emit_operations=False,
        shows_status_updates=False,  # OpenAI clients see summaries only with x-emit-operations
        options=RunOptions(model="gpt-4o", temperature=0.2, max_tokens=100, user="u-1"),
    )


def test_openai_content_parts_are_joined_and_non_text_parts_ignored() -> None:
    content = [
        {"type": "text", "text": "one"},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "two"},
    ]
    request = parse_chat_completions({"model": "m", "messages": [{"role": "user", "content": content}]}, {})
    assert request.user_text == "one\ntwo"


def test_openai_unknown_fields_are_ignored() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi", "x": 1}], "tool_choice": "auto", "seed": 3}
    assert parse_chat_completions(body, {}).user_text == "hi"


def test_openai_defaults_are_a_new_non_streaming_conversation() -> None:
    request = parse_chat_completions({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, {})
    assert (request.conversation_id, request.is_streaming, request.include_usage, request.emit_operations) == (
        None,
        False,
        False,
        False,
    )
    assert request.history == ()
    assert request.request_context == {}


def test_null_stream_fields_mean_their_defaults() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": None, "stream_options": None}
    assert parse_chat_completions(body, {}).is_streaming is False


def test_max_completion_tokens_is_the_fallback_for_max_tokens() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 9}
    assert parse_chat_completions(body, {}).options.max_tokens == 9


def test_include_usage_needs_stream() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": True}}
    assert parse_chat_completions(body, {}).include_usage is False


def test_tool_messages_and_trailing_messages_are_not_history() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]},
            {"role": "tool", "tool_call_id": "c", "content": "42"},
            {"role": "developer", "content": "Be kind."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "prefill"},
        ],
    }
    request = parse_chat_completions(body, {})
    assert request.user_text == "hi"
    assert request.history == (HistoryMessage(role="system", text="Be kind."),)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-emit-operations": "true"}, True),
        ({"X-Emit-Operations": "TRUE"}, True),
        (Headers({"X-Emit-Operations": "true"}), True),
        ({"x-emit-operations": "false"}, False),
        ({}, False),
    ],
)
def test_emit_operations_comes_from_the_header(headers: Any, expected: bool) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert parse_chat_completions(body, headers).emit_operations is expected


def test_legacy_headers_field_is_the_fallback_request_context() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "headers": {"user-id": "7"}}
    assert parse_chat_completions(body, {}).request_context == {"user-id": "7"}


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"stream": "yes"}, "/stream"),
        ({"temperature": 3}, "/temperature"),
        ({"n": 2}, "/n"),
        ({"max_tokens": "10"}, "/max_tokens"),
        ({"conversationId": "a b"}, "/conversationId"),
        ({"requestContext": []}, "/requestContext"),
        ({"messages": []}, "/messages"),
        ({"messages": "hi"}, "/messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "/messages/0/role"),
        ({"messages": [{"role": "user", "content": 5}]}, "/messages/0/content"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "/messages/0/content/0"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "/messages/0/content/0/text"),
    ],
)
def test_malformed_openai_fields_are_400s_naming_the_field(change: dict[str, Any], pointer: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(InvalidRequest) as error:
        parse_chat_completions(body, {})
    assert pointers(error) == [pointer]
    assert error.value.status == 400
    assert pointer in error.value.detail


def test_type_error_message_says_what_was_expected() -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_chat_completions({"messages": [{"role": "user", "content": 5}]}, {})
    assert error.value.errors[0].message == "Expected a string or a list of content parts."


def test_missing_messages_is_field_required() -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_chat_completions({"model": "m"}, {})
    assert [(item.pointer, item.message) for item in error.value.errors] == [("/messages", "Field required.")]


def test_body_must_be_an_object() -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_chat_completions([1, 2], {})
    assert pointers(error) == ["/"]


def test_no_user_message_is_a_400() -> None:
    body = {"model": "m", "messages": [{"role": "system", "content": "Be brief."}]}
    with pytest.raises(InvalidRequest, match="no user message") as error:
        parse_chat_completions(body, {})
    assert pointers(error) == ["/messages"]


def test_blank_last_user_message_is_a_400() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "  "}]}
    with pytest.raises(InvalidRequest, match="no text") as error:
        parse_chat_completions(body, {})
    assert pointers(error) == ["/messages/1/content"]


def test_too_many_messages_is_a_400() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}] * 3}
    with pytest.raises(InvalidRequest, match="at most 2") as error:
        parse_chat_completions(body, {}, max_messages=2)
    assert pointers(error) == ["/messages"]


def test_too_much_text_in_one_message_is_a_400() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "x" * 11}]}
    with pytest.raises(InvalidRequest, match="at most 10") as error:
        parse_chat_completions(body, {}, max_text_chars=10)
    assert pointers(error) == ["/messages/1/content"]


# --- /api/chat ---------------------------------------------------------------------------------


def test_ai_sdk_v5_body_becomes_a_run_request_keyed_by_chat_id() -> None:
    body = {
        "id": "chat-1",
        "trigger": "submit-message",
        "messages": [
            {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}], "metadata": {}},
            {
                "id": "a1",
                "role": "assistant",
                "parts": [
                    {"type": "step-start"},
                    {"type": "text", "text": "Hello!", "state": "done"},
                    {
                        "type": "dynamic-tool",
                        "toolName": "t",
                        "toolCallId": "c",
                        "state": "output-available",
                        "input": {},
                    },
                    {"type": "data-operation", "data": {"type": "transfer"}},
                ],
            },
            {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "More?"}]},
        ],
        "requestContext": {"tz": "UTC"},
    }
    request = parse_ui_chat(body, {"x-emit-operations": "true"})
    assert request == RunRequest(
        conversation_id="chat-1",
        user_text="More?",
        history=(HistoryMessage(role="user", text="Hi"), HistoryMessage(role="assistant", text="Hello!")),
        request_context={"tz": "UTC"},
        is_streaming=True,
        emit_operations=True,
    )


def test_conversation_id_wins_over_the_chat_id() -> None:
    body = {
        "id": "chat-1",
        "conversationId": "conv-9",
        "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}],
    }
    assert parse_ui_chat(body, {}).conversation_id == "conv-9"


def test_legacy_ai_sdk_body_with_content_is_accepted() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Yo"},
            {"role": "user", "content": "Bye"},
        ]
    }
    request = parse_ui_chat(body, {})
    assert (request.conversation_id, request.user_text) == (None, "Bye")
    assert request.history == (HistoryMessage(role="user", text="Hi"), HistoryMessage(role="assistant", text="Yo"))


def test_ui_message_without_parts_or_content_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_ui_chat({"messages": [{"role": "user"}]}, {})
    assert pointers(error) == ["/messages/0/parts"]


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"id": "chat 1"}, "/id"),
        ({"trigger": "resume"}, "/trigger"),
        ({"messages": [{"role": "tool", "parts": []}]}, "/messages/0/role"),
        ({"messages": [{"role": "user", "parts": [{"type": "text", "text": None}]}]}, "/messages/0/parts/0"),
        ({"messages": [{"role": "user", "parts": "hi"}]}, "/messages/0/parts"),
    ],
)
def test_malformed_ui_fields_are_400s_naming_the_field(change: dict[str, Any], pointer: str) -> None:
    body = {"id": "chat-1", "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}], **change}
    with pytest.raises(InvalidRequest) as error:
        parse_ui_chat(body, {})
    assert pointers(error) == [pointer]


def test_ui_user_message_without_text_parts_is_a_400() -> None:
    body = {"messages": [{"role": "user", "parts": [{"type": "file", "url": "x", "mediaType": "image/png"}]}]}
    with pytest.raises(InvalidRequest, match="no text") as error:
        parse_ui_chat(body, {})
    assert pointers(error) == ["/messages/0/parts"]


def test_ui_text_limit_points_at_the_parts() -> None:
    body = {"messages": [{"role": "user", "parts": [{"type": "text", "text": "x" * 11}]}]}
    with pytest.raises(InvalidRequest) as error:
        parse_ui_chat(body, {}, max_text_chars=10)
    assert pointers(error) == ["/messages/0/parts"]


def test_ui_too_many_messages_is_a_400() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}] * 3}
    with pytest.raises(InvalidRequest) as error:
        parse_ui_chat(body, {}, max_messages=2)
    assert pointers(error) == ["/messages"]
