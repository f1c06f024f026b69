"""Endpoints as data: one table feeds both the Starlette router and the OpenAPI document.

An `Endpoint` names its method, path, pydantic models for query and body, its response model and
status. `to_routes` wraps each handler: it reads the body within the size limit, parses JSON, validates
query and body with the same models the OpenAPI document is generated from, and renders the result in
the `{"data": ...}` envelope (the handler returns the envelope itself, so lists can add pagination).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from inkeep_runtime.errors import FieldError, InvalidRequest, PayloadTooLarge
from inkeep_runtime.secrets import redact

__all__ = ["Call", "Endpoint", "read_json_body", "to_routes", "validation_errors"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """What a handler receives: validated inputs plus the app's services."""

    path: dict[str, str]
    query: Any
    body: Any
    services: Any
    request: Request


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One HTTP operation."""

    method: str
    path: str
    summary: str
    handler: Handler
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_schema: type[BaseModel] | None = None
    """The model a handler that reads its own body validates with (documented, not applied here)."""
    response: Any = None
    """A type for the OpenAPI response schema (None: empty body)."""
    status: int = 200
    description: str = ""
    errors: tuple[int, ...] = field(default=(400, 401, 404))


def validation_errors(error: ValidationError, *, prefix: str = "") -> list[FieldError]:
    """Translate pydantic errors into field errors with JSON pointers."""
    found: list[FieldError] = []
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"]]
        # Unions add the branch name (e.g. "function-after[...]") to the location; it means nothing to clients.
        location = [part for part in location if "[" not in part]
        if prefix == "query":
            pointer = "query." + ".".join(location)
        else:
            pointer = prefix + "".join(f"/{part}" for part in location)
        message = item["msg"]
        if item["type"] == "missing":
            message = "Field required."
        elif item["type"] == "extra_forbidden":
            message = "Unknown field; remove it or check its spelling."
        found.append(FieldError(pointer=pointer or "/", message=message))
    return found


async def read_json_body(request: Request, limit: int) -> Any:
    """Read and parse a JSON body of at most `limit` bytes.

    Raises:
        PayloadTooLarge: the body is longer than `limit`.
        InvalidRequest: the body is empty or not JSON.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        msg = f"Request body of {declared} bytes exceeds the limit of {limit} bytes."
        raise PayloadTooLarge(msg)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            msg = f"Request body exceeds the limit of {limit} bytes."
            raise PayloadTooLarge(msg)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        msg = "Request body is empty; expected a JSON object."
        raise InvalidRequest(msg, [FieldError(pointer="/", message="Expected a JSON object.")])
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"Request body is not valid JSON: {exc}."
        raise InvalidRequest(msg, [FieldError(pointer="/", message="Expected a JSON object.")]) from exc


def _validate(model: type[BaseModel], data: Any, *, what: str, prefix: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc, prefix=prefix)
        fields = ", ".join(sorted({e.pointer for e in errors}))
        msg = f"Invalid {what}: {len(errors)} problem(s) at {fields}."
        raise InvalidRequest(msg, errors) from exc


def _runner(endpoint: Endpoint, services: Any, body_limit: int) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        query = None
        if endpoint.query is not None:
            query = _validate(endpoint.query, dict(request.query_params), what="query parameters", prefix="query")
        body = None
        if endpoint.body is not None:
            data = await read_json_body(request, body_limit)
            if not isinstance(data, dict):
                msg = f"Request body must be a JSON object, not {type(data).__name__}."
                raise InvalidRequest(msg, [FieldError(pointer="/", message="Expected a JSON object.")])
            body = _validate(endpoint.body, data, what="request body", prefix="")
        call = Call(path=dict(request.path_params), query=query, body=body, services=services, request=request)
        result = await endpoint.handler(call)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=endpoint.status if endpoint.status != 200 else 204)
        return JSONResponse(redact(result), status_code=endpoint.status)

    return run


def to_routes(endpoints: list[Endpoint], services: Any, *, body_limit: int) -> list[Route]:
    """One Starlette route per path, dispatching on method (so a 405 lists every allowed method)."""
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for endpoint in endpoints:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = _runner(endpoint, services, body_limit)
    routes: list[Route] = []
    for path, runners in by_path.items():

        async def dispatch(
            request: Request, runners: dict[str, Callable[[Request], Awaitable[Response]]] = runners
        ) -> Response:
            return await runners[request.method](request)

        routes.append(Route(path, dispatch, methods=list(runners), name=path))
    return routes
