"""The error taxonomy of query logs and analytics (caylex.md §4, "Error taxonomy").

Every failed query, step and tool call is classified into one `errorType`, so operators can count
failures by cause without parsing messages. The ten classes of caylex.md §4 are kept as written; one
is added, deliberately: `limit_exceeded`, for the run's own guards (`stopWhen.stepCountIs`,
`transferCountIs`, delegation depth and cycles). Those are neither upstream faults nor internal bugs, and
folding them into `internal` would hide the most common misconfiguration of a graph.

Classification goes by the error's `code` (the `errors.py` tree), so it works on an exception and on
the `Problem` a `RunFailed` carries alike.
"""

from __future__ import annotations

from typing import Final, Literal

from inkeep_runtime.errors import InkeepError

__all__ = ["ERROR_TYPES", "ErrorType", "error_type_of", "error_type_of_code"]

ErrorType = Literal[
    "timeout",
    "auth",
    "rate_limited",
    "mcp_connection",
    "tool_error",
    "invalid_arguments",
    "permission_denied",
    "approval_rejected",
    "llm_error",
    "limit_exceeded",
    "internal",
]

ERROR_TYPES: Final[tuple[ErrorType, ...]] = (
    "timeout",
    "auth",
    "rate_limited",
    "mcp_connection",
    "tool_error",
    "invalid_arguments",
    "permission_denied",
    "approval_rejected",
    "llm_error",
    "limit_exceeded",
    "internal",
)
"""Every `errorType` value, in the order of caylex.md §4 (plus `limit_exceeded`)."""

_BY_CODE: Final[dict[str, ErrorType]] = {
    "llm_timeout": "timeout",
    "tool_timeout": "timeout",
    "run_deadline_exceeded": "timeout",
    "llm_rate_limited": "rate_limited",
    "llm_error": "llm_error",
    "invalid_model_output": "llm_error",
    "mcp_unavailable": "mcp_connection",
    "mcp_needs_auth": "auth",
    "unauthorized": "auth",
    "forbidden": "auth",
    "tool_error": "tool_error",
    "bad_request": "invalid_arguments",
    "permission_denied": "permission_denied",
    "approval_rejected": "approval_rejected",
    "turn_limit_exceeded": "limit_exceeded",
}


def error_type_of_code(code: str) -> ErrorType:
    """The class of an error `code` (a problem's or an `InkeepError`'s); unknown codes are `internal`."""
    return _BY_CODE.get(code, "internal")


def error_type_of(error: BaseException) -> ErrorType:
    """The class of an exception: ours by code, a bare `TimeoutError` as `timeout`, anything else `internal`."""
    if isinstance(error, InkeepError):
        return error_type_of_code(error.code)
    if isinstance(error, TimeoutError):
        return "timeout"
    return "internal"
