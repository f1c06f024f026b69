"""Neutral chat messages and tool specs, and their OpenAI wire form (reference/protocols.md A.1).

The executor, the store and the prompt builder speak these frozen dataclasses; only this module knows
what OpenAI's `messages` and `tools` arrays look like. litellm takes the OpenAI form for every
provider, so the same dicts reach Anthropic, Gemini or a local server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Required, TypedDict, assert_never

from inkeep_runtime.errors import FieldError, InvalidRequest

__all__ = [
    "AssistantMessage",
    "FunctionCallDict",
    "FunctionSpecDict",
    "Message",
    "MessageDict",
    "SystemMessage",
    "ToolCall",
    "ToolCallDict",
    "ToolResultMessage",
    "ToolSpec",
    "ToolSpecDict",
    "UserMessage",
    "message_from_openai",
    "message_to_openai",
    "messages_from_openai",
    "messages_to_openai",
    "tool_to_openai",
    "tools_to_openai",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemMessage:
    """Instructions for the model (OpenAI `system`; `developer` is read as this too)."""

    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMessage:
    """What the user said."""

    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """One function call the model asked for."""

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    """Parsed arguments; sent back to the model re-serialised, so broken JSON never re-enters the history."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistantMessage:
    """What the model said: text, tool calls, or both."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResultMessage:
    """The result of one tool call, as text (errors too: the model reads them and may recover)."""

    tool_call_id: str
    content: str


Message = SystemMessage | UserMessage | AssistantMessage | ToolResultMessage
"""Any message of a conversation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    """A function tool offered to the model."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    """JSON Schema of the arguments object."""


class FunctionCallDict(TypedDict):
    name: str
    arguments: str
    """JSON text."""


class ToolCallDict(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCallDict


class MessageDict(TypedDict, total=False):
    """An OpenAI chat message (the keys each role uses)."""

    role: Required[Literal["system", "user", "assistant", "tool"]]
    content: str | None
    tool_calls: list[ToolCallDict]
    tool_call_id: str


class FunctionSpecDict(TypedDict):
    name: str
    description: str
    parameters: dict[str, Any]


class ToolSpecDict(TypedDict):
    type: Literal["function"]
    function: FunctionSpecDict


def message_to_openai(message: Message) -> MessageDict:
    """The OpenAI form of one message."""
    match message:
        case SystemMessage(content=content):
            return {"role": "system", "content": content}
        case UserMessage(content=content):
            return {"role": "user", "content": content}
        case AssistantMessage(content=content, tool_calls=()):
            return {"role": "assistant", "content": content}
        case AssistantMessage(content=content, tool_calls=calls):
            return {
                "role": "assistant",
                "content": content or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for call in calls
                ],
            }
        case ToolResultMessage(tool_call_id=call_id, content=content):
            return {"role": "tool", "tool_call_id": call_id, "content": content}
        case _:  # pragma: no cover - exhaustive
            assert_never(message)


def messages_to_openai(messages: Iterable[Message]) -> list[MessageDict]:
    """The OpenAI `messages` array."""
    return [message_to_openai(message) for message in messages]


def tool_to_openai(tool: ToolSpec) -> ToolSpecDict:
    """The OpenAI form of one function tool."""
    function: FunctionSpecDict = {
        "name": tool.name,
        "description": tool.description,
        "parameters": dict(tool.parameters),
    }
    return {"type": "function", "function": function}


def tools_to_openai(tools: Iterable[ToolSpec]) -> list[ToolSpecDict]:
    """The OpenAI `tools` array."""
    return [tool_to_openai(tool) for tool in tools]


def messages_from_openai(data: Any, *, pointer: str = "/messages") -> list[Message]:
    """Read an OpenAI `messages` array sent by a client.

    Raises:
        InvalidRequest: It is not a list of messages this runtime understands; names the JSON pointer.
    """
    if not isinstance(data, list):
        _invalid(pointer, "Expected an array of messages.")
    return [message_from_openai(item, pointer=f"{pointer}/{index}") for index, item in enumerate(data)]


def message_from_openai(data: Any, *, pointer: str = "/messages/0") -> Message:
    """Read one OpenAI chat message (text content only; `developer` counts as `system`).

    Raises:
        InvalidRequest: The message is malformed; the error names the JSON pointer of the bad field.
    """
    if not isinstance(data, Mapping):
        _invalid(pointer, "Expected a message object.")
    role = data.get("role")
    if role in ("system", "developer"):
        return SystemMessage(content=_text(data.get("content"), f"{pointer}/content"))
    if role == "user":
        return UserMessage(content=_text(data.get("content"), f"{pointer}/content"))
    if role == "assistant":
        calls = data.get("tool_calls")
        if calls is None:
            calls = []
        elif not isinstance(calls, list):
            _invalid(f"{pointer}/tool_calls", "Expected an array of tool calls.")
        return AssistantMessage(
            content=_text(data.get("content"), f"{pointer}/content", optional=True),
            tool_calls=tuple(_tool_call(call, f"{pointer}/tool_calls/{i}") for i, call in enumerate(calls)),
        )
    if role == "tool":
        return ToolResultMessage(
            tool_call_id=_string(data.get("tool_call_id"), f"{pointer}/tool_call_id"),
            content=_text(data.get("content"), f"{pointer}/content", optional=True),
        )
    _invalid(f"{pointer}/role", f"Expected one of system, developer, user, assistant, tool, not {role!r}.")


def _tool_call(data: Any, pointer: str) -> ToolCall:
    if not isinstance(data, Mapping) or not isinstance(data.get("function"), Mapping):
        _invalid(pointer, "Expected a tool call object with a `function` object.")
    function = data["function"]
    raw = function.get("arguments") or "{}"
    try:
        arguments = json.loads(_string(raw, f"{pointer}/function/arguments"))
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        _invalid(f"{pointer}/function/arguments", "Expected the arguments to be a JSON object encoded as a string.")
    return ToolCall(
        id=_string(data.get("id"), f"{pointer}/id"),
        name=_string(function.get("name"), f"{pointer}/function/name"),
        arguments=arguments,
    )


def _text(content: Any, pointer: str, *, optional: bool = False) -> str:
    """Message content: a string, or an array of `{"type": "text", "text": ...}` parts (joined)."""
    if isinstance(content, str):
        return content
    if content is None and optional:
        return ""
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if not isinstance(part, Mapping) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                _invalid(f"{pointer}/{index}", "Expected a text part: {'type': 'text', 'text': '...'}.")
            texts.append(part["text"])
        return "".join(texts)
    _invalid(pointer, "Expected a string or an array of text parts.")


def _string(value: Any, pointer: str) -> str:
    if not isinstance(value, str) or not value:
        _invalid(pointer, "Expected a non-empty string.")
    return value


def _invalid(pointer: str, message: str) -> NoReturn:
    msg = f"Invalid message at {pointer}: {message}"
    raise InvalidRequest(msg, [FieldError(pointer=pointer, message=message)])
