"""Context configs: request-context validation, the template sandbox, and fetched context variables.

- `config.py` freezes a stored context config into runnable definitions.
- `validation.py` checks `requestContext` against `requestContextSchema` (400 naming each field).
- `templates.py` is the jinja2 sandbox for fetch configs and agent instructions.
- `fetcher.py` performs one variable's HTTP request (credential headers merged after rendering).
- `resolver.py` resolves a turn's variables: triggers, database cache, concurrency, single-flight.
"""

from __future__ import annotations

from inkeep_runtime.context.config import (
    REQUEST_CONTEXT,
    ContextConfigDefinition,
    ContextVariableDefinition,
    FetchDefinition,
    load_context_config,
    parse_context_config,
)
from inkeep_runtime.context.fetcher import ContextFetcher, ContextFetchError
from inkeep_runtime.context.resolver import ContextService, ResolvedContext
from inkeep_runtime.context.templates import ContextTemplateError, TemplateRenderer, has_template, url_quote
from inkeep_runtime.context.validation import validate_request_context

__all__ = [
    "REQUEST_CONTEXT",
    "ContextConfigDefinition",
    "ContextFetchError",
    "ContextFetcher",
    "ContextService",
    "ContextTemplateError",
    "ContextVariableDefinition",
    "FetchDefinition",
    "ResolvedContext",
    "TemplateRenderer",
    "has_template",
    "load_context_config",
    "parse_context_config",
    "url_quote",
    "validate_request_context",
]
