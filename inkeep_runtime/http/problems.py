"""Problem JSON responses (RFC 9457 plus the Inkeep envelope).

The body carries both the RFC fields and the Inkeep API document's fields, so either kind of client
can read it: `{type, title, status, detail, instance, requestId, code, error: {code, message}}`, plus
`errors: [{field, pointer, message}]` for validation failures.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from inkeep_runtime.errors import InkeepError, InvalidRequest

__all__ = ["PROBLEM_CONTENT_TYPE", "problem_body", "problem_response", "request_id_of"]

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


def request_id_of(request: Request) -> str:
    """The id the request-id middleware gave this request."""
    return str(request.scope.get("state", {}).get("request_id", "req_unknown"))


def problem_body(error: InkeepError, *, instance: str, request_id: str) -> dict[str, Any]:
    """Render an error as a problem dictionary."""
    body: dict[str, Any] = {
        "type": f"urn:inkeep:problem:{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": instance,
        "requestId": request_id,
        "code": error.code,
        "error": {"code": error.code, "message": error.detail},
    }
    if isinstance(error, InvalidRequest) and error.errors:
        body["errors"] = [item.to_dict() for item in error.errors]
    body.update(error.extensions)
    return body


def problem_response(request: Request, error: Exception) -> JSONResponse:
    """Turn any exception into a problem response; unknown ones become an opaque 500."""
    request_id = request_id_of(request)
    if not isinstance(error, InkeepError):
        logger.error("unhandled error in %s %s (%s)", request.method, request.url.path, request_id, exc_info=error)
        error = InkeepError("An unexpected error occurred; the request id identifies it in the server log.")
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if error.status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse(
        problem_body(error, instance=request.url.path, request_id=request_id),
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )
