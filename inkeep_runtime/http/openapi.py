"""OpenAPI 3.1 document generated from the endpoint table and its pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from inkeep_runtime.http.endpoint import Endpoint

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
}
_PROBLEM = {
    "type": "object",
    "required": ["title", "status", "detail", "code", "error"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "requestId": {"type": "string"},
        "code": {"type": "string"},
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "pointer": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def _operation_id(endpoint: Endpoint) -> str:
    words = re.sub(r"[{}]", "", endpoint.path).replace(".", "-").split("/")
    return endpoint.method.lower() + "".join(w[:1].upper() + w[1:] for w in re.split(r"[-/]", "/".join(words)) if w)


def _schemas(endpoints: Iterable[Endpoint]) -> tuple[dict[Any, Any], dict[str, Any]]:
    models: list[tuple[Any, Any]] = []
    for endpoint in endpoints:
        if (body := endpoint.body or endpoint.body_schema) is not None:
            models.append((body, "validation"))
        if endpoint.response is not None:
            models.append((endpoint.response, "serialization"))
    unique = list(dict.fromkeys(models))
    refs, document = models_json_schema(
        [(m, mode) for m, mode in unique if isinstance(m, type) and issubclass(m, BaseModel)],
        ref_template=_REF,
        by_alias=True,
    )
    return refs, document.get("$defs", {})


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema(by_alias=True)
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop})
    return params


def build_openapi(endpoints: list[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for `endpoints`."""
    refs, components = _schemas(endpoints)
    components["Problem"] = _PROBLEM
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": _STATUS_TEXT.get(endpoint.status, "OK")}
        if endpoint.response is not None:
            key = (endpoint.response, "serialization")
            schema = refs.get(key) or TypeAdapter(endpoint.response).json_schema(ref_template=_REF)
            ok["content"] = {"application/json": {"schema": schema}}
        responses[str(endpoint.status)] = ok
        for status in endpoint.errors:
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error"),
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        operation: dict[str, Any] = {
            "operationId": _operation_id(endpoint),
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "parameters": _parameters(endpoint),
            "responses": responses,
        }
        if endpoint.description:
            operation["description"] = endpoint.description
        if (body := endpoint.body or endpoint.body_schema) is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(body, "validation")]}},
            }
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
