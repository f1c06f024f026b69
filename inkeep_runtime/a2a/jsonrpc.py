"""JSON-RPC 2.0 for A2A: the envelope, the method table of both protocol versions, and spec error objects.

Every JSON-RPC failure is an HTTP 200 whose body is a JSON-RPC error response (the A2A SDKs map the
`error.code` to typed exceptions). Only failures *before* JSON-RPC handling use HTTP statuses: a
missing or wrong API key (401), an unknown graph or agent (404), a body over the size limit (413).

Versions (reference/protocols.md §C.1): 0.3 method names (`message/send`, ...) and 1.0 method names
(`SendMessage`, ...) are both served on the one endpoint, and each method answers in the shapes of its
own version. The `A2A-Version` header (or query parameter) is checked against the method: a version
we do not serve, or one that contradicts the method's version, is `-32009 VersionNotSupported`. A
missing header is accepted for both generations (deliberately lenient: the spec says "missing means
0.3", but a 1.0 method name is unambiguous, and refusing it would only break clients).

Error objects carry `data` so a client can tell which field was wrong: in 1.0 an array with one
`google.rpc.ErrorInfo` (`reason`, `domain: "a2a-protocol.org"`, string `metadata`), in 0.3 the
metadata object itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from inkeep_runtime.a2a.wire import Version

__all__ = [
    "METHODS",
    "VERSION_HEADER",
    "Envelope",
    "Operation",
    "RpcError",
    "check_version",
    "content_type_not_supported",
    "error_response",
    "extended_card_not_configured",
    "internal_error",
    "invalid_params",
    "invalid_request",
    "method_not_found",
    "parse_envelope",
    "parse_error",
    "push_not_supported",
    "requested_version",
    "result_response",
    "task_not_cancelable",
    "task_not_found",
    "unsupported_operation",
    "version_for",
    "version_not_supported",
]

VERSION_HEADER: Final = "A2A-Version"
_ERROR_INFO: Final = "type.googleapis.com/google.rpc.ErrorInfo"
_DOMAIN: Final = "a2a-protocol.org"

Operation = Literal["send", "stream", "get", "list", "cancel", "subscribe", "push", "extended_card"]

METHODS: Final[Mapping[str, tuple[Operation, Version]]] = {
    "message/send": ("send", "0.3"),
    "message/stream": ("stream", "0.3"),
    "tasks/get": ("get", "0.3"),
    "tasks/cancel": ("cancel", "0.3"),
    "tasks/resubscribe": ("subscribe", "0.3"),
    "tasks/pushNotificationConfig/set": ("push", "0.3"),
    "tasks/pushNotificationConfig/get": ("push", "0.3"),
    "tasks/pushNotificationConfig/list": ("push", "0.3"),
    "tasks/pushNotificationConfig/delete": ("push", "0.3"),
    "agent/getAuthenticatedExtendedCard": ("extended_card", "0.3"),
    "SendMessage": ("send", "1.0"),
    "SendStreamingMessage": ("stream", "1.0"),
    "GetTask": ("get", "1.0"),
    "ListTasks": ("list", "1.0"),
    "CancelTask": ("cancel", "1.0"),
    "SubscribeToTask": ("subscribe", "1.0"),
    "CreateTaskPushNotificationConfig": ("push", "1.0"),
    "GetTaskPushNotificationConfig": ("push", "1.0"),
    "ListTaskPushNotificationConfigs": ("push", "1.0"),
    "DeleteTaskPushNotificationConfig": ("push", "1.0"),
    "GetExtendedAgentCard": ("extended_card", "1.0"),
}
"""Every method we answer: what it does and which protocol version its shapes follow."""

RequestId = str | int | float | None


@dataclass(slots=True)
class RpcError(Exception):
    """A JSON-RPC error to send back (never raised past the endpoint)."""

    code: int
    message: str
    reason: str
    """The `google.rpc.ErrorInfo` reason (`TASK_NOT_FOUND`)."""
    metadata: dict[str, str] = field(default_factory=dict)
    request_id: RequestId = None

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def to_dict(self, version: Version) -> dict[str, Any]:
        """The `error` member of the response."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if version == "1.0":
            error["data"] = [
                {"@type": _ERROR_INFO, "reason": self.reason, "domain": _DOMAIN, "metadata": self.metadata}
            ]
        elif self.metadata:
            error["data"] = dict(self.metadata)
        return error


def parse_error(detail: str) -> RpcError:
    """-32700: the body is not JSON."""
    return RpcError(-32700, f"Invalid JSON payload: {detail}", "PARSE_ERROR")


def invalid_request(*, member: str, message: str, request_id: RequestId = None) -> RpcError:
    """-32600: the envelope is not a JSON-RPC 2.0 request (`member` names the bad member)."""
    return RpcError(-32600, f"Invalid Request: {message}", "INVALID_REQUEST", {"field": member}, request_id)


def method_not_found(method: str) -> RpcError:
    """-32601: no such method."""
    message = f"Method not found: '{method}' is not an A2A 0.3 or 1.0 method served here."
    return RpcError(-32601, message, "METHOD_NOT_FOUND", {"method": method})


def invalid_params(*, field: str, message: str) -> RpcError:
    """-32602: `params` is malformed at `field` (dotted, e.g. `message.parts[0].text`)."""
    return RpcError(-32602, f"Invalid params: {message}", "INVALID_PARAMS", {"field": field})


def internal_error(message: str) -> RpcError:
    """-32603: something failed on our side (the message is safe to show)."""
    return RpcError(-32603, message, "INTERNAL")


def task_not_found(task_id: str) -> RpcError:
    """-32001."""
    return RpcError(-32001, f"Task not found: '{task_id}'.", "TASK_NOT_FOUND", {"taskId": task_id})


def task_not_cancelable(task_id: str, state: str) -> RpcError:
    """-32002: the task already ended."""
    message = f"Task cannot be canceled: '{task_id}' is already {state}."
    return RpcError(-32002, message, "TASK_NOT_CANCELABLE", {"taskId": task_id, "state": state})


def push_not_supported() -> RpcError:
    """-32003: this server sends no push notifications (the card says so)."""
    message = "Push Notification is not supported: subscribe with message/stream or tasks/resubscribe instead."
    return RpcError(-32003, message, "PUSH_NOTIFICATION_NOT_SUPPORTED")


def unsupported_operation(message: str) -> RpcError:
    """-32004."""
    return RpcError(-32004, f"This operation is not supported: {message}", "UNSUPPORTED_OPERATION")


def content_type_not_supported(*, field: str, message: str) -> RpcError:
    """-32005: a part or an accepted output mode we cannot handle."""
    return RpcError(-32005, f"Incompatible content types: {message}", "CONTENT_TYPE_NOT_SUPPORTED", {"field": field})


def extended_card_not_configured() -> RpcError:
    """-32007: there is no authenticated extended card beyond the public one."""
    message = "Authenticated Extended Card is not configured: the agent card is the whole card."
    return RpcError(-32007, message, "EXTENDED_AGENT_CARD_NOT_CONFIGURED")


def version_not_supported(message: str) -> RpcError:
    """-32009."""
    return RpcError(-32009, f"Version not supported: {message}", "VERSION_NOT_SUPPORTED")


def result_response(request_id: RequestId, result: Any) -> dict[str, Any]:
    """A success response."""
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(error: RpcError, version: Version) -> dict[str, Any]:
    """An error response in `version`'s shape."""
    return {"jsonrpc": "2.0", "id": error.request_id, "error": error.to_dict(version)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """A valid JSON-RPC request for a known method."""

    request_id: RequestId
    method: str
    operation: Operation
    version: Version
    params: dict[str, Any]


def _request_id(body: dict[str, Any]) -> RequestId:
    if "id" not in body:
        message = "A2A requests need an `id` (string or number); notifications are not served."
        raise invalid_request(member="id", message=message)
    value = body["id"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise invalid_request(member="id", message="`id` must be a string, a number or null.")
    return value


def parse_envelope(body: Any) -> Envelope:
    """Validate a parsed body as a JSON-RPC 2.0 request for one of `METHODS`.

    Raises:
        RpcError: -32600 for a malformed envelope, -32601 for an unknown method, -32602 for `params`
            that are not an object (with the request's id when it was readable).
    """
    if isinstance(body, list):
        raise invalid_request(member="/", message="batch requests are not supported; send one JSON-RPC request object.")
    if not isinstance(body, dict):
        raise invalid_request(member="/", message=f"expected a JSON-RPC request object, got {type(body).__name__}.")
    request_id = _request_id(body)
    if body.get("jsonrpc") != "2.0":
        raise invalid_request(member="jsonrpc", message='`jsonrpc` must be "2.0".', request_id=request_id)
    method = body.get("method")
    if not isinstance(method, str) or not method:
        raise invalid_request(member="method", message="`method` must be a non-empty string.", request_id=request_id)
    if method not in METHODS:
        error = method_not_found(method)
        error.request_id = request_id
        raise error
    params = body.get("params", {})
    if not isinstance(params, dict):
        error = invalid_params(field="params", message="`params` must be an object.")
        error.request_id = request_id
        raise error
    operation, version = METHODS[method]
    return Envelope(request_id=request_id, method=method, operation=operation, version=version, params=params)


def requested_version(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The `A2A-Version` the client asked for (header first, then query parameter), if any."""
    value = headers.get(VERSION_HEADER.lower()) or query.get(VERSION_HEADER)
    return value.strip() if value else None


def version_for(requested: str | None) -> Version:
    """The version whose error shapes answer a request whose method is unknown."""
    return "1.0" if requested is not None and requested.startswith("1.") else "0.3"


def check_version(envelope: Envelope, requested: str | None) -> None:
    """Refuse a version header we do not serve or one that contradicts the method (see module doc).

    Raises:
        RpcError: -32009.
    """
    if requested is None:
        return
    parts = requested.split(".")
    major_minor = ".".join(parts[:2]) if len(parts) >= 2 else requested
    if major_minor not in {"0.3", "1.0"}:
        error = version_not_supported(f"A2A-Version '{requested}' is not served here; use '1.0' or '0.3'.")
    elif major_minor != envelope.version:
        message = f"method '{envelope.method}' is A2A {envelope.version}, but A2A-Version says '{requested}'."
        error = version_not_supported(message)
    else:
        return
    error.request_id = envelope.request_id
    raise error
