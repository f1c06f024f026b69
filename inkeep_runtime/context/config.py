"""Runnable context configs: the request-context schema and the variables fetched for agent instructions.

`load_context_config` reads a graph's context config (and the credential references its variables
name) from the store and freezes it into a `ContextConfigDefinition`. Stored variables keep the wire
form the CRUD API accepted (`fetchConfig`, `defaultValue`, `responseSchema`, ...), so this module is
where that JSON is read, once per graph load.

Each variable gets a `definition_hash`: a cached value is reused only while the definition that
produced it is unchanged, so editing one variable re-fetches that variable and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from inkeep_runtime.errors import GraphDefinitionError
from inkeep_runtime.store.rows import Rows, Scope

__all__ = [
    "REQUEST_CONTEXT",
    "ContextConfigDefinition",
    "ContextVariableDefinition",
    "FetchDefinition",
    "Trigger",
    "load_context_config",
    "parse_context_config",
]

Trigger = Literal["initialization", "invocation"]
REQUEST_CONTEXT: Final = "requestContext"
"""The template name of the request's context; no variable may take it."""
_VARIABLE_KEY: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchDefinition:
    """How to fetch one variable; `url`, header values and body strings are templates."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: Any = None
    timeout_s: float | None = None
    """From `fetchConfig.timeout` (milliseconds); None: the runtime default."""
    transform: str | None = None
    """Inkeep's JMESPath `transform`: not supported here, a fetch that names one fails (and uses its default)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextVariableDefinition:
    """One fetched value, exposed to templates under `key`."""

    key: str
    trigger: Trigger
    fetch: FetchDefinition
    response_schema: Mapping[str, Any] | None = None
    has_default: bool = False
    default_value: Any = None
    credential: Mapping[str, Any] | None = field(default=None, repr=False)
    """The credential reference row (where the secret lives, never the secret); its headers join the fetch."""
    credential_reference_id: str | None = None
    definition_hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextConfigDefinition:
    """A graph's context config, ready to validate requests and resolve variables."""

    id: str
    request_context_schema: Mapping[str, Any] | None = None
    variables: Mapping[str, ContextVariableDefinition] = field(default_factory=lambda: MappingProxyType({}))


async def load_context_config(rows: Rows, scope: Scope, config_id: str | None) -> ContextConfigDefinition | None:
    """The context config `config_id` of a graph (None when the graph has none).

    Raises:
        GraphDefinitionError: the config is missing or one of its variables cannot run.
    """
    if not config_id:
        return None
    row = await rows.get("context_configs", scope, config_id)
    if row is None:
        msg = f"Context config '{config_id}' does not exist in project '{scope.project_id}'."
        raise GraphDefinitionError(msg, pointer="/contextConfigId")
    variables = row["context_variables"] or {}
    ids = sorted({str(v.get("credentialReferenceId")) for v in variables.values() if v.get("credentialReferenceId")})
    references = await rows.find("credential_references", scope, id=ids) if ids else []
    return parse_context_config(row, {ref["id"]: ref for ref in references})


def parse_context_config(
    row: Mapping[str, Any], references: Mapping[str, Mapping[str, Any]] | None = None
) -> ContextConfigDefinition:
    """Freeze a stored context config row (column names; nested JSON in wire form).

    Raises:
        GraphDefinitionError: a variable has a key templates cannot name, or lacks a URL.
    """
    config_id = str(row["id"])
    variables: dict[str, ContextVariableDefinition] = {}
    for key, raw in (row.get("context_variables") or {}).items():
        variables[key] = _variable(config_id, key, raw, references or {})
    schema = row.get("request_context_schema")
    return ContextConfigDefinition(
        id=config_id,
        request_context_schema=schema if isinstance(schema, Mapping) and schema else None,
        variables=MappingProxyType(variables),
    )


def _variable(
    config_id: str, key: str, raw: Mapping[str, Any], references: Mapping[str, Mapping[str, Any]]
) -> ContextVariableDefinition:
    pointer = f"/contextVariables/{key}"
    if not _VARIABLE_KEY.match(key) or key == REQUEST_CONTEXT:
        msg = (
            f"Context config '{config_id}' has a variable named {key!r}; names must be identifiers "
            f"(letters, digits, _) other than '{REQUEST_CONTEXT}', so templates can use them."
        )
        raise GraphDefinitionError(msg, pointer=pointer)
    fetch = raw.get("fetchConfig") or {}
    url = fetch.get("url")
    if not isinstance(url, str) or not url:
        msg = f"Context variable '{key}' of context config '{config_id}' has no fetchConfig.url."
        raise GraphDefinitionError(msg, pointer=f"{pointer}/fetchConfig/url")
    method = str(fetch.get("method") or "GET").upper()
    if method not in _METHODS:
        msg = f"Context variable '{key}' uses method {method!r}; expected one of {', '.join(sorted(_METHODS))}."
        raise GraphDefinitionError(msg, pointer=f"{pointer}/fetchConfig/method")
    timeout = fetch.get("timeout")
    ref_id = raw.get("credentialReferenceId")
    schema = raw.get("responseSchema")
    return ContextVariableDefinition(
        key=key,
        trigger="invocation" if raw.get("trigger") == "invocation" else "initialization",
        fetch=FetchDefinition(
            url=url,
            method=method,
            headers=MappingProxyType({str(k): str(v) for k, v in (fetch.get("headers") or {}).items()}),
            body=fetch.get("body"),
            timeout_s=timeout / 1000 if isinstance(timeout, int | float) and timeout > 0 else None,
            transform=fetch.get("transform") or None,
        ),
        response_schema=schema if isinstance(schema, Mapping) else None,
        has_default="defaultValue" in raw and raw["defaultValue"] is not None,
        default_value=raw.get("defaultValue"),
        credential=references.get(ref_id) if ref_id else None,
        credential_reference_id=str(ref_id) if ref_id else None,
        definition_hash=hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:32],
    )
