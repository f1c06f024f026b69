"""Request bodies of the two chat endpoints, parsed into one protocol-neutral `RunRequest`.

`/v1/chat/completions` takes the OpenAI body (reference/protocols.md §A.1) plus Inkeep's fields
(`conversationId`, `requestContext`, and the older `headers` as a fallback context source).
Both endpoints also take the request context as JSON in the header `x-inkeep-request-context`
(for clients that cannot add body fields), used only when the body has neither field.
`/api/chat` takes the AI SDK 5+ body (`id`, `messages[].parts`, `trigger`; §B.3) and the legacy
AI SDK 4 body (`messages[].content`).

Unknown fields are ignored, because OpenAI clients send many (`tool_choice`, `seed`, `metadata`, ...),
but the fields we know are validated strictly: `"stream": "yes"` is a 400 naming `/stream`, not a
silent `True`. Only text is read from messages; other content parts (images, tool parts the AI SDK
sends back, `step-start`) are accepted and ignored.

The input of the run is the **last user message**. Everything before it is `history`: OpenAI clients
resend the whole conversation, and the executor uses it to seed a conversation it does not know yet
(a stored conversation's history comes from the database instead). Messages after the last user
message (an assistant prefill, a client-side tool result) are dropped: this runtime executes its
tools itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from inkeep_runtime.errors import FieldError, InvalidRequest
from inkeep_runtime.ids import ID_PATTERN

__all__ = [
    "DEFAULT_MAX_MESSAGES",
    "DEFAULT_MAX_TEXT_CHARS",
    "ChatCompletionsBody",
    "HistoryMessage",
    "RunOptions",
    "RunRequest",
    "RunSource",
    "UIChatBody",
    "parse_chat_completions",
    "parse_ui_chat",
]

DEFAULT_MAX_MESSAGES = 200
"""Most messages one request may carry."""
DEFAULT_MAX_TEXT_CHARS = 100_000
"""Most characters of text one message may carry."""

Role = Literal["system", "user", "assistant"]
_M = TypeVar("_M", bound="_Body")
_MessageText = tuple[Role | None, str | None, str]
"""A message's history role (None: not history), its text (None: no text part) and its text field's name."""
ConversationId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=255)]


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryMessage:
    """One earlier message of the conversation, as text."""

    role: Role
    text: str


RunSource = Literal["chat_completions", "api_chat", "a2a"]
"""The API a run came through."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """Sampling options the client asked for; None means the graph's model settings decide."""

    model: str | None = None
    """The model the client named (OpenAI requires one; the graph decides which model runs)."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    user: str | None = None
    """The end-user id OpenAI clients may send."""
    run_config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """One chat turn to run, whichever protocol asked for it."""

    conversation_id: str | None
    """The conversation to continue or create; None means a new one with a fresh id."""
    user_text: str
    """The text of the last user message: the input of this turn."""
    history: tuple[HistoryMessage, ...] = ()
    """The messages before it, used only when the conversation is new."""
    request_context: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Values for the graph's context config (`requestContext`, or the legacy `headers` field)."""
    is_streaming: bool = True
    include_usage: bool | None = None
    """OpenAI `stream_options.include_usage`: add the usage chunk."""
    emit_operations: bool = False
    """Header `x-emit-operations: true`: show transfers, delegations and tool calls to OpenAI clients."""
    shows_status_updates: bool = True
    """The client will see status summaries (`/api/chat`; OpenAI only when streaming with operations)."""
    options: RunOptions = field(default_factory=RunOptions)
    a2a_hops: int = 0
    """How many A2A calls between servers led to this run (header `x-inkeep-a2a-hops`; 0 for chat clients)."""
    source: RunSource = "chat_completions"
    """Which API admitted the run (recorded in the query log): set by the endpoint, not parsed from the body."""
    api_key_id: str | None = None
    """The id of the API key that admitted the run (None in `--dev` mode); set by `http.run_auth`."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class TextPart(_Body):
    """A content part (OpenAI) or message part (AI SDK); only `text` parts are read."""

    type: str
    text: str | None = None

    @model_validator(mode="after")
    def _text_parts_have_text(self) -> TextPart:
        if self.type == "text" and self.text is None:
            msg = "A part of type 'text' needs a `text` string."
            raise ValueError(msg)
        return self


def _as_parts(value: Any) -> Any:
    """Accept `content` as a string or a list of parts; anything else gets one clear message."""
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    msg = "Expected a string or a list of content parts."
    raise ValueError(msg)


class ChatMessage(_Body):
    """One OpenAI message."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: list[TextPart] | None = None
    name: str | None = None

    _content_as_parts = field_validator("content", mode="before")(_as_parts)


class StreamOptions(_Body):
    """OpenAI `stream_options`."""

    include_usage: bool | None = None


class _ContextFields(_Body):
    """Fields both endpoints accept from Inkeep's API."""

    conversation_id: ConversationId | None = Field(default=None, alias="conversationId")
    request_context: dict[str, Any] | None = Field(default=None, alias="requestContext")
    headers: dict[str, Any] | None = None
    """Inkeep's older name for the request context."""
    model: str | None = None


class ChatCompletionsBody(_ContextFields):
    """The `/v1/chat/completions` body."""

    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    """OpenAI's newer name for `max_tokens` (used when `max_tokens` is absent)."""
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    user: str | None = None
    run_config: dict[str, Any] | None = Field(default=None, alias="runConfig")
    tools: list[Any] | None = None
    """Accepted and ignored: the graph defines the tools."""


class UIMessage(_Body):
    """One AI SDK message: v5+ `parts`, or the v4 `content` string."""

    id: str | None = None
    role: Role
    parts: list[TextPart] | None = None
    content: list[TextPart] | None = None

    _content_as_parts = field_validator("content", mode="before")(_as_parts)


class UIChatBody(_ContextFields):
    """The `/api/chat` body."""

    id: ConversationId | None = None
    """The chat id of `useChat`: the conversation, unless `conversationId` is given."""
    messages: list[UIMessage] = Field(min_length=1)
    trigger: Literal["submit-message", "regenerate-message"] | None = None
    message_id: str | None = Field(default=None, alias="messageId")


def parse_chat_completions(
    body: Any,
    headers: Mapping[str, str],
    *,
    max_messages: int = DEFAULT_MAX_MESSAGES,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
) -> RunRequest:
    """Validate an OpenAI chat completions body.

    Raises:
        InvalidRequest: a field is malformed, a limit is exceeded, or there is no user message with text.
    """
    parsed = _validate(ChatCompletionsBody, body, max_messages=max_messages)
    texts: list[_MessageText] = [(_role(m.role), _text(m.content), "content") for m in parsed.messages]
    user_text, history = _split(texts, max_text_chars)
    options = RunOptions(
        model=parsed.model,
        temperature=parsed.temperature,
        top_p=parsed.top_p,
        max_tokens=parsed.max_tokens if parsed.max_tokens is not None else parsed.max_completion_tokens,
        presence_penalty=parsed.presence_penalty,
        frequency_penalty=parsed.frequency_penalty,
        user=parsed.user,
        run_config=MappingProxyType(dict(parsed.run_config or {})),
    )
    return RunRequest(
        conversation_id=parsed.conversation_id,
        user_text=user_text,
        history=history,
        request_context=_context(parsed, headers),
        is_streaming=bool(parsed.stream),
        include_usage=bool(parsed.stream and parsed.stream_options and parsed.stream_options.include_usage),
        emit_operations=_is_true(headers, "x-emit-operations"),
        shows_status_updates=bool(parsed.stream) and _is_true(headers, "x-emit-operations"),
        options=options,
    )


def parse_ui_chat(
    body: Any,
    headers: Mapping[str, str],
    *,
    max_messages: int = DEFAULT_MAX_MESSAGES,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
) -> RunRequest:
    """Validate an AI SDK `/api/chat` body (v5+ parts, or the legacy content string).

    Raises:
        InvalidRequest: a field is malformed, a limit is exceeded, or there is no user message with text.
    """
    parsed = _validate(UIChatBody, body, max_messages=max_messages)
    texts: list[_MessageText] = []
    for index, message in enumerate(parsed.messages):
        if message.parts is not None:
            texts.append((message.role, _text(message.parts), "parts"))
        elif message.content is not None:
            texts.append((message.role, _text(message.content), "content"))
        else:
            msg = f"Message {index} has neither `parts` (AI SDK 5+) nor `content`."
            raise InvalidRequest(msg, [FieldError(pointer=f"/messages/{index}/parts", message="Field required.")])
    user_text, history = _split(texts, max_text_chars)
    return RunRequest(
        conversation_id=parsed.conversation_id or parsed.id,
        user_text=user_text,
        history=history,
        request_context=_context(parsed, headers),
        is_streaming=True,
        emit_operations=_is_true(headers, "x-emit-operations"),
        options=RunOptions(model=parsed.model),
    )


def _validate(model: type[_M], body: Any, *, max_messages: int) -> _M:
    if not isinstance(body, dict):
        msg = "Request body must be a JSON object."
        raise InvalidRequest(msg, [FieldError(pointer="/", message="Expected a JSON object.")])
    messages = body.get("messages")
    if isinstance(messages, list) and len(messages) > max_messages:
        msg = f"Request has {len(messages)} messages; at most {max_messages} are allowed."
        raise InvalidRequest(msg, [FieldError(pointer="/messages", message=f"At most {max_messages} messages.")])
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = _field_errors(exc)
        pointers = ", ".join(dict.fromkeys(error.pointer for error in errors))
        msg = f"Invalid request body: {len(errors)} problem(s) at {pointers}."
        raise InvalidRequest(msg, errors) from exc


def _field_errors(error: ValidationError) -> list[FieldError]:
    found: list[FieldError] = []
    for item in error.errors(include_url=False):
        # Strict unions add the branch (`str`, `list[TextPart]`) to the location; it means nothing to clients.
        location = [str(part) for part in item["loc"] if not (isinstance(part, str) and "[" in part)]
        message = "Field required." if item["type"] == "missing" else item["msg"].removeprefix("Value error, ")
        found.append(FieldError(pointer="".join(f"/{part}" for part in location) or "/", message=message))
    return found


def _role(role: str) -> Role | None:
    """Map OpenAI roles to history roles; tool results and function calls are not history text."""
    if role in ("system", "developer"):
        return "system"
    if role in ("user", "assistant"):
        return role  # type: ignore[return-value]  # narrowed by the test above
    return None


def _text(parts: list[TextPart] | None) -> str | None:
    """The text of a message (text parts joined by newlines), or None when it has no text part."""
    if parts is None:
        return None
    texts = [part.text for part in parts if part.type == "text" and part.text is not None]
    return "\n".join(texts) if texts else None


def _split(texts: list[_MessageText], max_text_chars: int) -> tuple[str, tuple[HistoryMessage, ...]]:
    """The last user message's text, and the text messages before it."""
    for index, (_, text, where) in enumerate(texts):
        if text is not None and len(text) > max_text_chars:
            msg = f"Message {index} has {len(text)} characters of text; at most {max_text_chars} are allowed."
            raise InvalidRequest(msg, [FieldError(pointer=f"/messages/{index}/{where}", message=msg)])
    last_user = next((i for i in range(len(texts) - 1, -1, -1) if texts[i][0] == "user"), None)
    if last_user is None:
        msg = "The request has no user message; send at least one message with role 'user'."
        raise InvalidRequest(msg, [FieldError(pointer="/messages", message="Expected a message with role 'user'.")])
    _, user_text, where = texts[last_user]
    if not user_text or not user_text.strip():
        msg = f"The last user message (index {last_user}) has no text."
        raise InvalidRequest(msg, [FieldError(pointer=f"/messages/{last_user}/{where}", message="Expected text.")])
    history = tuple(
        HistoryMessage(role=role, text=text) for role, text, _ in texts[:last_user] if role is not None and text
    )
    return user_text, history


def _context(parsed: _ContextFields, headers: Mapping[str, str]) -> Mapping[str, Any]:
    source = parsed.request_context if parsed.request_context is not None else parsed.headers
    if source is None:
        source = _header_context(headers)
    return MappingProxyType(dict(source or {}))


def _header_context(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The JSON object in `x-inkeep-request-context`, if sent."""
    name = "x-inkeep-request-context"
    raw = headers.get(name)
    if raw is None:
        raw = next((v for k, v in headers.items() if k.lower() == name), None)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        msg = f"Header {name} must hold a JSON object (the request context)."
        raise InvalidRequest(msg, [FieldError(pointer=f"header.{name}", message="Expected a JSON object.")])
    return value


def _is_true(headers: Mapping[str, str], name: str) -> bool:
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive; Starlette's Headers is not
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value is not None and value.strip().lower() == "true"
