"""Validate a request's `requestContext` against the graph's `requestContextSchema` (JSON Schema 2020-12).

A violation is an `InvalidRequest` (400) raised before anything is stored or any model is called. Its
problem body lists every failing field: `pointer` (`/requestContext/userId`), `field`
(`requestContext.userId`), `message` and `expected` (what the schema asks for). Values are never
echoed back: a request context may carry tokens. Inkeep's middleware turned this 400 into a 500
("Context validation failed"); here it stays a 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from inkeep_runtime.context.config import REQUEST_CONTEXT, ContextConfigDefinition
from inkeep_runtime.errors import FieldError, GraphDefinitionError, InvalidRequest

__all__ = ["validate_request_context", "validation_errors"]

_ROOT = f"/{REQUEST_CONTEXT}"


def validate_request_context(config: ContextConfigDefinition, value: Mapping[str, Any], *, graph_id: str) -> None:
    """Check `value` against the config's schema (no schema: anything goes).

    Raises:
        InvalidRequest: the value violates the schema; every violation is listed.
        GraphDefinitionError: the stored schema is not a valid JSON Schema.
    """
    if config.request_context_schema is None:
        return
    label = f"context config '{config.id}'"
    # A plain dict: jsonschema's "object" type does not accept the read-only mappings of a RunRequest.
    errors = validation_errors(config.request_context_schema, dict(value), root=_ROOT, label=label)
    if errors:
        pointers = ", ".join(dict.fromkeys(error.pointer for error in errors))
        msg = (
            f"The requestContext does not match the requestContextSchema of graph '{graph_id}' "
            f"(context config '{config.id}'): {len(errors)} problem(s) at {pointers}."
        )
        raise InvalidRequest(msg, errors)


def validation_errors(schema: Mapping[str, Any], value: Any, *, root: str, label: str) -> list[FieldError]:
    """Every violation of `schema` by `value`, as field errors under the JSON pointer `root`.

    Raises:
        GraphDefinitionError: `schema` is not a valid JSON Schema.
    """
    try:
        found = list(Draft202012Validator(schema).iter_errors(value))
    except SchemaError as exc:
        msg = f"The JSON Schema of {label} is not valid: {exc.message}."
        raise GraphDefinitionError(msg) from None
    errors = {(e.pointer, e.message): e for error in found for e in _field_errors(error, root)}
    return sorted(errors.values(), key=lambda e: (e.pointer, e.message))


def _field_errors(error: ValidationError, root: str) -> list[FieldError]:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [name for name in required if name not in error.instance]
        if missing:
            return [
                FieldError(pointer=_pointer(root, [*path, name]), message="Field required.", expected="present")
                for name in missing
            ]
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        extra = sorted(set(error.instance) - set(schema.get("properties", {})))
        if extra and not schema.get("patternProperties"):
            return [
                FieldError(pointer=_pointer(root, [*path, name]), message="Field not allowed.", expected="absent")
                for name in extra
            ]
    return [FieldError(pointer=_pointer(root, path), message=_message(error), expected=_expected(error))]


def _pointer(root: str, path: list[str]) -> str:
    return root + "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)


def _expected(error: ValidationError) -> str:
    rule, value = str(error.validator), error.validator_value
    if rule == "type":
        return " or ".join(value) if isinstance(value, list) else str(value)
    if rule == "enum" and isinstance(value, list):
        return "one of " + ", ".join(json.dumps(v) for v in value)
    if rule == "const":
        return json.dumps(value)
    return f"{rule}: {json.dumps(value, default=str)}"


def _message(error: ValidationError) -> str:
    """jsonschema's message without the offending value (it may be a secret)."""
    rule, value = str(error.validator), error.validator_value
    messages = {
        "type": f"Expected type {_expected(error)}.",
        "enum": f"Expected {_expected(error)}.",
        "const": f"Expected {_expected(error)}.",
        "minLength": f"Expected at least {value} characters.",
        "maxLength": f"Expected at most {value} characters.",
        "pattern": f"Expected a string matching {value!r}.",
        "format": f"Expected the format {value!r}.",
        "minimum": f"Expected a number >= {value}.",
        "maximum": f"Expected a number <= {value}.",
        "exclusiveMinimum": f"Expected a number > {value}.",
        "exclusiveMaximum": f"Expected a number < {value}.",
        "minItems": f"Expected at least {value} items.",
        "maxItems": f"Expected at most {value} items.",
        "minProperties": f"Expected at least {value} properties.",
        "maxProperties": f"Expected at most {value} properties.",
    }
    return messages.get(rule, f"Does not satisfy the schema rule '{rule}'.")
