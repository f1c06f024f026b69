"""The one error tree of the runtime.

```
InkeepError 500
  ├ ConfigError (start-up only, never HTTP)
  ├ GraphDefinitionError 422 (file + JSON pointer)
  ├ StoreError 500 → StoreUnavailable 503 (busy or unreachable database)
  └ RequestError 400
      ├ InvalidRequest 400 (field errors)
      ├ Unauthorized 401
      ├ Forbidden 403
      ├ NotFound 404
      ├ MethodNotAllowed 405
      ├ Conflict 409
      └ PayloadTooLarge 413
  ├ RunError 500
  │   ├ TurnLimitExceeded 422 (transfer/step/delegation-depth guards)
  │   └ RunDeadlineExceeded 504
  └ UpstreamError 502
      ├ LLMError 502 → LLMTimeout 504, LLMRateLimited 503, InvalidModelOutput 502
      └ ToolError 502 → MCPUnavailable 502, ToolTimeout 504
```
Every class carries `status`, `code` (a slug) and `title`; an instance carries `detail` and optional
extension fields. `http/problems.py` renders them as problem JSON (RFC 9457 plus the Inkeep envelope).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "ConfigError",
    "Conflict",
    "FieldError",
    "Forbidden",
    "GraphDefinitionError",
    "InkeepError",
    "InvalidModelOutput",
    "InvalidRequest",
    "LLMError",
    "LLMRateLimited",
    "LLMTimeout",
    "MCPUnavailable",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RequestError",
    "RunDeadlineExceeded",
    "RunError",
    "StoreError",
    "StoreUnavailable",
    "ToolError",
    "ToolTimeout",
    "TurnLimitExceeded",
    "Unauthorized",
    "UpstreamError",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of a request."""

    pointer: str
    """JSON pointer into the request (`/agents/router/name`), or `query.limit` style for parameters."""
    message: str
    """What was wrong and what was expected."""
    expected: str | None = None
    """What the schema asks for (`string`, `present`, `minLength: 3`), when known."""

    def to_dict(self) -> dict[str, str]:
        """Render for a problem body."""
        field = self.pointer.lstrip("/").replace("/", ".") if self.pointer.startswith("/") else self.pointer
        found = {"field": field, "pointer": self.pointer, "message": self.message}
        return found if self.expected is None else {**found, "expected": self.expected}


class InkeepError(Exception):
    """Base of every error the runtime raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_server_error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class ConfigError(InkeepError):
    """Settings or start-up configuration is unusable. Raised before serving, never over HTTP."""

    code = "config_error"
    title = "Configuration Error"


class GraphDefinitionError(InkeepError):
    """A graph document is inconsistent (names the file and JSON pointer of the problem)."""

    status = 422
    code = "invalid_graph"
    title = "Invalid Graph Definition"


class StoreError(InkeepError):
    """The database failed in a way the caller cannot fix."""

    code = "store_error"
    title = "Store Error"


class StoreUnavailable(StoreError):
    """The database is busy or unreachable right now; retrying later may succeed."""

    status = 503
    code = "store_unavailable"
    title = "Service Unavailable"


class RequestError(InkeepError):
    """Something about the request is wrong; the client can fix it."""

    status = 400
    code = "bad_request"
    title = "Bad Request"


class InvalidRequest(RequestError):
    """The request body or parameters failed validation."""

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class Unauthorized(RequestError):
    """Missing or wrong credentials."""

    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(RequestError):
    """Credentials are valid but do not allow this."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(RequestError):
    """The addressed resource does not exist (in this tenant and project)."""

    status = 404
    code = "not_found"
    title = "Not Found"


class MethodNotAllowed(RequestError):
    """The route exists but does not accept this method."""

    status = 405
    code = "method_not_allowed"
    title = "Method Not Allowed"


class Conflict(RequestError):
    """The request clashes with stored state: duplicate id, or a resource still in use."""

    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(RequestError):
    """The body exceeds the configured limit."""

    status = 413
    code = "payload_too_large"
    title = "Payload Too Large"


class RunError(InkeepError):
    """A run could not finish."""

    code = "run_error"
    title = "Run Error"


class TurnLimitExceeded(RunError):
    """A guard stopped the run (transfer count, step count, delegation depth or cycle)."""

    status = 422
    code = "turn_limit_exceeded"
    title = "Turn Limit Exceeded"


class RunDeadlineExceeded(RunError):
    """The run took longer than its deadline."""

    status = 504
    code = "run_deadline_exceeded"
    title = "Run Deadline Exceeded"


class UpstreamError(InkeepError):
    """A service the run depends on failed."""

    status = 502
    code = "upstream_error"
    title = "Bad Gateway"


class LLMError(UpstreamError):
    """The model provider failed or answered something unusable."""

    code = "llm_error"
    title = "Model Error"


class LLMTimeout(LLMError):
    """The model provider did not answer in time."""

    status = 504
    code = "llm_timeout"
    title = "Model Timeout"


class LLMRateLimited(LLMError):
    """The model provider refused the call for rate or quota reasons."""

    status = 503
    code = "llm_rate_limited"
    title = "Model Rate Limited"


class InvalidModelOutput(LLMError):
    """The model's structured answer (data components) stayed invalid after one corrected retry."""

    code = "invalid_model_output"
    title = "Invalid Model Output"


class ToolError(UpstreamError):
    """A tool call failed."""

    code = "tool_error"
    title = "Tool Error"


class MCPUnavailable(ToolError):
    """An MCP server could not be reached or refused the session."""

    code = "mcp_unavailable"
    title = "MCP Server Unavailable"


class ToolTimeout(ToolError):
    """A tool call did not finish in time."""

    status = 504
    code = "tool_timeout"
    title = "Tool Timeout"
