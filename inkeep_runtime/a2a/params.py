"""Validated `params` of the A2A methods we serve, in both protocol versions.

Input is read leniently across versions where that is unambiguous (a part is text when it has `text`,
whether or not it says `"kind": "text"`; a role may be `user` or `ROLE_USER`), and strictly where it
matters: every refusal is `-32602 Invalid params` naming the field (`message.parts[1].text`), or
`-32005` for content we cannot take (file parts, output modes we never produce).

The user's input is the text of the message's text parts (joined by blank lines) plus each data part as
compact JSON text. `message.contextId` is the conversation to continue (our conversation ids are URL-safe
ids, so other strings are refused rather than silently replaced); `metadata.requestContext` (of the
params, or of the message) feeds the graph's context config like `requestContext` on the chat routes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from inkeep_runtime.a2a.jsonrpc import content_type_not_supported, invalid_params
from inkeep_runtime.a2a.wire import Version
from inkeep_runtime.ids import is_valid_id
from inkeep_runtime.protocols.requests import DEFAULT_MAX_TEXT_CHARS

__all__ = ["OUTPUT_MODES", "SendParams", "TaskQuery", "parse_send", "parse_task_query"]

OUTPUT_MODES: Final = ("text/plain", "application/json")
"""What our answers consist of (text, and data parts for data components)."""
_ACCEPTABLE_MODES: Final = frozenset({*OUTPUT_MODES, "text", "*/*", "text/*", "application/*"})
_MAX_PARTS: Final = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class SendParams:
    """A validated `message/send` / `SendMessage` (and the streaming variants)."""

    message: dict[str, Any]
    """The user's message in neutral form (roles and parts normalised; ids filled in later)."""
    user_text: str
    context_id: str | None
    task_id: str | None
    """A task the client wants to continue (we never leave a task waiting for input, so this fails later)."""
    is_blocking: bool
    history_length: int | None
    request_context: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskQuery:
    """`tasks/get`, `tasks/cancel`, `tasks/resubscribe` and their 1.0 names."""

    task_id: str
    history_length: int | None = None


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_params(field=path, message=f"`{path}` must be an object.")
    return value


def _optional_id(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not is_valid_id(value):
        raise invalid_params(field=path, message=f"`{path}` must be 1-255 characters of letters, digits, '-' or '_'.")
    return value


def _history_length(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_params(field=path, message=f"`{path}` must be a non-negative integer.")
    return value


def _part(part: Any, path: str) -> tuple[dict[str, Any], str]:
    """A neutral part and its contribution to the user's text."""
    part = _object(part, path)
    kind = part.get("kind")
    metadata = part.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise invalid_params(field=f"{path}.metadata", message=f"`{path}.metadata` must be an object.")
    extra = {"metadata": metadata} if metadata else {}
    if "text" in part or kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise invalid_params(field=f"{path}.text", message=f"`{path}.text` must be a string.")
        return {"text": text, **extra}, text
    if "data" in part or kind == "data":
        data = part.get("data")
        if kind == "data" and not isinstance(data, dict):
            raise invalid_params(field=f"{path}.data", message=f"`{path}.data` must be an object (A2A 0.3 data part).")
        return {"data": data, **extra}, json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if kind == "file" or any(key in part for key in ("file", "url", "raw")):
        message = f"`{path}` is a file part; this agent accepts text and data parts only."
        raise content_type_not_supported(field=path, message=message)
    raise invalid_params(field=path, message=f"`{path}` must be a text part (`text`) or a data part (`data`).")


def _parts(value: Any) -> tuple[list[dict[str, Any]], str]:
    if not isinstance(value, list) or not value:
        raise invalid_params(field="message.parts", message="`message.parts` must be a non-empty array of parts.")
    if len(value) > _MAX_PARTS:
        raise invalid_params(
            field="message.parts", message=f"`message.parts` has {len(value)} parts; at most {_MAX_PARTS}."
        )
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    for index, raw in enumerate(value):
        part, text = _part(raw, f"message.parts[{index}]")
        parts.append(part)
        if text.strip():
            texts.append(text)
    user_text = "\n\n".join(texts)
    if not user_text:
        raise invalid_params(
            field="message.parts", message="`message.parts` holds no text; send at least one non-empty text part."
        )
    if len(user_text) > DEFAULT_MAX_TEXT_CHARS:
        message = f"the message has {len(user_text)} characters of text; at most {DEFAULT_MAX_TEXT_CHARS}."
        raise invalid_params(field="message.parts", message=message)
    return parts, user_text


def _message(value: Any) -> tuple[dict[str, Any], str]:
    message = _object(value, "message")
    message_id = message.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise invalid_params(field="message.messageId", message="`message.messageId` must be a non-empty string.")
    if message.get("role") not in {"user", "ROLE_USER"}:
        raise invalid_params(field="message.role", message='`message.role` must be "user" (0.3) or "ROLE_USER" (1.0).')
    parts, user_text = _parts(message.get("parts"))
    neutral: dict[str, Any] = {"messageId": message_id[:255], "role": "user", "parts": parts}
    metadata = message.get("metadata")
    if metadata is not None:
        neutral["metadata"] = _object(metadata, "message.metadata")
    return neutral, user_text


def _accepts_our_output(configuration: dict[str, Any]) -> None:
    modes = configuration.get("acceptedOutputModes")
    if modes is None:
        return
    if not isinstance(modes, list) or not all(isinstance(m, str) for m in modes):
        raise invalid_params(
            field="configuration.acceptedOutputModes", message="`acceptedOutputModes` must be an array of strings."
        )
    if modes and not _ACCEPTABLE_MODES.intersection(m.lower() for m in modes):
        message = f"the client accepts {modes}, but this agent answers in {list(OUTPUT_MODES)}."
        raise content_type_not_supported(field="configuration.acceptedOutputModes", message=message)


def _is_blocking(configuration: dict[str, Any], version: Version) -> bool:
    if version == "0.3":
        value = configuration.get("blocking", True)
        if not isinstance(value, bool):
            raise invalid_params(field="configuration.blocking", message="`configuration.blocking` must be a boolean.")
        return value
    value = configuration.get("returnImmediately", False)
    if not isinstance(value, bool):
        raise invalid_params(
            field="configuration.returnImmediately", message="`configuration.returnImmediately` must be a boolean."
        )
    return not value


def _request_context(params: dict[str, Any], message: dict[str, Any]) -> Mapping[str, Any]:
    for source, path in ((params.get("metadata"), "metadata"), (message.get("metadata"), "message.metadata")):
        if isinstance(source, dict) and "requestContext" in source:
            return MappingProxyType(_object(source["requestContext"], f"{path}.requestContext"))
    return MappingProxyType({})


def parse_send(params: dict[str, Any], version: Version) -> SendParams:
    """Validate the params of a send (blocking or streaming).

    Raises:
        RpcError: -32602 naming the field, or -32005 for content we cannot handle.
    """
    if "message" not in params:
        raise invalid_params(field="message", message="`message` is required.")
    raw = _object(params["message"], "message")
    message, user_text = _message(raw)
    configuration = _object(params.get("configuration") or {}, "configuration")
    metadata = params.get("metadata")
    if metadata is not None:
        _object(metadata, "metadata")
    _accepts_our_output(configuration)
    return SendParams(
        message=message,
        user_text=user_text,
        context_id=_optional_id(raw.get("contextId"), "message.contextId"),
        task_id=_optional_id(raw.get("taskId"), "message.taskId"),
        is_blocking=_is_blocking(configuration, version),
        history_length=_history_length(configuration.get("historyLength"), "configuration.historyLength"),
        request_context=_request_context(params, message),
    )


def parse_task_query(params: dict[str, Any]) -> TaskQuery:
    """Validate `{"id": ..., "historyLength"?: n}`.

    Raises:
        RpcError: -32602 naming the field.
    """
    task_id = params.get("id")
    if not isinstance(task_id, str) or not task_id:
        raise invalid_params(field="id", message="`id` (the task id) must be a non-empty string.")
    return TaskQuery(task_id=task_id, history_length=_history_length(params.get("historyLength"), "historyLength"))
