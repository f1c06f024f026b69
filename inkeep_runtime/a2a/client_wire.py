"""A2A wire formats for the external-agent client: cards, send requests, answers (0.3 and 1.0).

Pure functions and values, no I/O; `client.py` does the HTTP. Reference: protocols.md §C.

Versions: from a card's `supportedInterfaces` a JSON-RPC interface of version 1.x is preferred (methods
`SendMessage`, `ROLE_USER`, parts without `kind`), else one of 0.x (methods `message/send`, `kind`
discriminators, `configuration.blocking`). Legacy cards (top-level `url`, `protocolVersion`,
`preferredTransport`) are read as a2a-sdk reads them: a missing version means 0.3. 0.2 cards (Inkeep's)
speak the same JSON-RPC methods as 0.3.

The answer is every text part, and every data part rendered as JSON, of the task's artifacts (else its
status message, else its last agent message), or of the returned message, one line break between parts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

from inkeep_runtime.errors import UpstreamError
from inkeep_runtime.ids import new_id

__all__ = [
    "FAILED_STATES",
    "RETRYABLE_STATUS",
    "A2AAnswer",
    "A2AError",
    "A2AProtocolError",
    "A2ARejected",
    "A2ATimeout",
    "A2AUnavailable",
    "AgentEndpoint",
    "ProtocolVersion",
    "RemoteAgent",
    "answer_from_result",
    "card_urls",
    "check_status",
    "endpoint_from_card",
    "jsonrpc_result",
    "parse_json",
    "redact_url",
    "render_parts",
    "retry_after",
    "send_request",
    "task_state",
]

ProtocolVersion = Literal["0.3", "1.0"]
RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses worth another attempt (with backoff)."""
FAILED_STATES: Final = frozenset({"failed", "rejected", "canceled", "auth-required"})
"""Task states (0.3 spelling) that end a call as an error."""


class A2AError(UpstreamError):
    """An external agent could not answer (the task failed, or the call went wrong)."""

    code = "a2a_error"
    title = "External Agent Error"


class A2AUnavailable(A2AError):
    """The external agent could not be reached, or stayed overloaded (429/5xx) through every retry."""

    code = "a2a_unavailable"
    title = "External Agent Unavailable"


class A2ATimeout(A2AError):
    """The external agent did not answer within the time allowed."""

    status = 504
    code = "a2a_timeout"
    title = "External Agent Timeout"


class A2ARejected(A2AError):
    """The external agent refused the request (HTTP 4xx such as 401, or a JSON-RPC error)."""

    code = "a2a_rejected"
    title = "External Agent Rejected The Request"


class A2AProtocolError(A2AError):
    """The external agent's card or answer is not valid A2A."""

    code = "a2a_protocol_error"
    title = "External Agent Protocol Error"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteAgent:
    """Where an external agent lives and what to send with every request."""

    id: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The record's headers merged with its resolved credential (secret: never logged or shown)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentEndpoint:
    """The JSON-RPC endpoint of an agent, read from its card."""

    url: str
    protocol_version: ProtocolVersion
    name: str = ""
    is_streaming: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class A2AAnswer:
    """What an external agent answered."""

    text: str
    context_id: str | None = None
    """The remote context; send it again to continue the same remote conversation."""
    task_id: str | None = None
    state: str = "completed"
    """Task state in 0.3 spelling (`completed`, `input-required`, ...); `completed` for a plain message."""


def card_urls(base_url: str) -> list[str]:
    """Where to look for the card of an agent at `base_url`, in order."""
    parts = urlsplit(base_url)
    if parts.path.endswith(".json"):
        return [base_url]
    path = parts.path.rstrip("/")
    return [
        urlunsplit(parts._replace(path=f"{path}/.well-known/{name}", fragment=""))
        for name in ("agent-card.json", "agent.json")
    ]


def endpoint_from_card(card: Any, card_url: str, agent_id: str) -> AgentEndpoint:
    """The JSON-RPC endpoint a card names (1.x interfaces preferred, then 0.x, then the legacy fields).

    Raises:
        A2AProtocolError: the card is not an object or names no JSON-RPC endpoint.
    """
    if not isinstance(card, dict):
        msg = f"The agent card of external agent '{agent_id}' at {redact_url(card_url)} is not a JSON object."
        raise A2AProtocolError(msg, agentId=agent_id)
    name = _str(card.get("name")) or ""
    is_streaming = _dict(card.get("capabilities")).get("streaming") is True
    found: dict[ProtocolVersion, str] = {}
    for entry in _list(card.get("supportedInterfaces")):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        if str(entry.get("protocolBinding", "JSONRPC")).upper() != "JSONRPC":
            continue
        version = _version(entry.get("protocolVersion"))
        if version is not None:
            found.setdefault(version, entry["url"])
    if not found:
        legacy = _legacy_url(card)
        version = _version(card.get("protocolVersion") or "0.3")
        if legacy is not None and version is not None:
            found[version] = legacy
    for version in ("1.0", "0.3"):
        if version in found:
            url = urljoin(card_url, found[version])
            return AgentEndpoint(url=url, protocol_version=version, name=name, is_streaming=is_streaming)
    msg = (
        f"The agent card of external agent '{agent_id}' at {redact_url(card_url)} names no JSON-RPC endpoint "
        "of A2A version 0.3 or 1.x."
    )
    raise A2AProtocolError(msg, agentId=agent_id)


def _legacy_url(card: dict[str, Any]) -> str | None:
    """A 0.3 card's JSON-RPC URL: `url` when the preferred transport is JSON-RPC, else an additional interface."""
    if str(card.get("preferredTransport", "JSONRPC")).upper() == "JSONRPC" and isinstance(card.get("url"), str):
        return str(card["url"])
    extra = card.get("additionalInterfaces")
    for entry in extra if isinstance(extra, list) else []:
        if isinstance(entry, dict) and str(entry.get("transport")).upper() == "JSONRPC":
            url = entry.get("url")
            if isinstance(url, str):
                return url
    return None


def _version(value: object) -> ProtocolVersion | None:
    """The protocol family of a version string: 1.x speaks 1.0, 0.2/0.3 speak 0.3; anything else is unknown."""
    if not isinstance(value, str):
        return None
    major, _, rest = value.strip().partition(".")
    minor = rest.partition(".")[0]
    if major == "1":
        return "1.0"
    if major == "0" and minor in {"2", "3"}:
        return "0.3"
    return None


def send_request(
    version: ProtocolVersion,
    text: str,
    *,
    context_id: str | None,
    metadata: Mapping[str, Any] | None,
    is_streaming: bool = False,
) -> dict[str, Any]:
    """The JSON-RPC request of a blocking (or streaming) send in `version`'s wire format."""
    message: dict[str, Any] = {"messageId": new_id()}
    configuration: dict[str, Any] = {"acceptedOutputModes": ["text/plain", "application/json"]}
    if version == "1.0":
        message |= {"role": "ROLE_USER", "parts": [{"text": text}]}
        method = "SendStreamingMessage" if is_streaming else "SendMessage"
    else:
        message |= {"kind": "message", "role": "user", "parts": [{"kind": "text", "text": text}]}
        configuration["blocking"] = True
        method = "message/stream" if is_streaming else "message/send"
    if context_id:
        message["contextId"] = context_id
    if metadata:
        message["metadata"] = dict(metadata)
    return {
        "jsonrpc": "2.0",
        "id": new_id(),
        "method": method,
        "params": {"message": message, "configuration": configuration},
    }


def answer_from_result(agent_id: str, result: Any) -> A2AAnswer:
    """The answer in a send result (a Task or a Message, in 0.3 or 1.0 shape).

    Raises:
        A2AProtocolError: the result is neither a task nor a message.
        A2AError: the task failed, was rejected or canceled, or needs authentication.
    """
    kind, body = _unwrap(agent_id, result)
    if kind == "message":
        return A2AAnswer(
            text=render_parts(body.get("parts")),
            context_id=_str(body.get("contextId")),
            task_id=_str(body.get("taskId")),
        )
    status = _dict(body.get("status"))
    state = task_state(status.get("state"))
    status_text = render_parts(_dict(status.get("message")).get("parts"))
    if state in FAILED_STATES:
        why = f": {status_text}" if status_text else "."
        msg = f"External agent '{agent_id}' ended its task as {state}{why}"
        raise A2AError(msg, agentId=agent_id, taskState=state)
    text = "\n".join(filter(None, (render_parts(_dict(a).get("parts")) for a in _list(body.get("artifacts")))))
    if not text:
        text = status_text or _last_agent_message(body.get("history"))
    return A2AAnswer(
        text=text, context_id=_str(body.get("contextId")), task_id=_str(body.get("id")), state=state or "completed"
    )


def _unwrap(agent_id: str, result: Any) -> tuple[Literal["task", "message"], dict[str, Any]]:
    if isinstance(result, dict):
        for key in ("task", "message"):  # 1.0: {"task": {...}} / {"message": {...}}
            if isinstance(result.get(key), dict):
                return ("task" if key == "task" else "message"), result[key]
        if result.get("kind") == "task" or (result.get("kind") is None and "status" in result):
            return "task", result
        if result.get("kind") == "message" or (result.get("kind") is None and "parts" in result):
            return "message", result
    msg = f"External agent '{agent_id}' answered with something that is neither an A2A task nor a message."
    raise A2AProtocolError(msg, agentId=agent_id)


def task_state(value: object) -> str:
    """A task state in 0.3 spelling (`TASK_STATE_INPUT_REQUIRED` → `input-required`)."""
    if not isinstance(value, str):
        return ""
    return value.lower().removeprefix("task_state_").replace("_", "-")


def render_parts(parts: object) -> str:
    """Text parts as they are, data parts as JSON, files as a short note; one line break between parts."""
    rendered: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            rendered.append(part["text"])
        elif "data" in part:
            rendered.append(json.dumps(part["data"], ensure_ascii=False))
        elif isinstance(part.get("file"), dict) or "url" in part or "raw" in part:
            rendered.append(_file_note(part))
    return "\n".join(text for text in rendered if text)


def _file_note(part: dict[str, Any]) -> str:
    file = part["file"] if isinstance(part.get("file"), dict) else part
    name = file.get("name") or file.get("filename") or "file"
    where = file.get("uri") or file.get("url")
    return f"[file {name}: {where}]" if isinstance(where, str) else f"[file {name}: inline content not shown]"


def _last_agent_message(history: object) -> str:
    for message in reversed(history if isinstance(history, list) else []):
        if isinstance(message, dict) and message.get("role") in {"agent", "ROLE_AGENT"}:
            return render_parts(message.get("parts"))
    return ""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def redact_url(url: str) -> str:
    """`url` without credentials, query or fragment (safe for messages and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_json(agent_id: str, body: bytes | str, what: str) -> Any:
    """`body` parsed as JSON.

    Raises:
        A2AProtocolError: it is not JSON.
    """
    try:
        return json.loads(body)
    except ValueError:
        msg = f"{what} of external agent '{agent_id}' is not JSON."
        raise A2AProtocolError(msg, agentId=agent_id) from None


def jsonrpc_result(agent_id: str, body: bytes | str) -> Any:
    """The `result` of a JSON-RPC response body.

    Raises:
        A2ARejected: the response is a JSON-RPC error.
        A2AProtocolError: the body is not a JSON-RPC response.
    """
    payload = parse_json(agent_id, body, "The answer")
    if not isinstance(payload, dict) or ("result" not in payload and "error" not in payload):
        msg = f"External agent '{agent_id}' answered with something that is not a JSON-RPC response."
        raise A2AProtocolError(msg, agentId=agent_id)
    error = payload.get("error")
    if error is not None:
        code, message = _dict(error).get("code"), _dict(error).get("message")
        msg = f"External agent '{agent_id}' refused the request: JSON-RPC error {code}: {message}"
        raise A2ARejected(msg, agentId=agent_id, rpcCode=code)
    return payload["result"]


def check_status(agent_id: str, status: int, url: str) -> None:
    """Raise for an HTTP error status (after retries, so 429/5xx mean unavailable).

    Raises:
        A2AUnavailable: 429 or 5xx.
        A2ARejected: any other 4xx/5xx.
    """
    if status < 400:
        return
    if status in RETRYABLE_STATUS:
        msg = f"External agent '{agent_id}' at {redact_url(url)} answered HTTP {status} on every attempt."
        raise A2AUnavailable(msg, agentId=agent_id, httpStatus=status)
    hint = "; check its headers and credential reference" if status in {401, 403} else ""
    msg = f"External agent '{agent_id}' at {redact_url(url)} refused the request with HTTP {status}{hint}."
    raise A2ARejected(msg, agentId=agent_id, httpStatus=status)


def retry_after(value: str | None) -> float | None:
    """A `Retry-After` header in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
