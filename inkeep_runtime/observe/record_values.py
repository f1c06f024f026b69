"""What the query-log recorder stores besides events: clock, truncation, redaction, usage, trace ids."""

from __future__ import annotations

import json
import time
from typing import Any, Final

from opentelemetry import trace

from inkeep_runtime.secrets import redact

__all__ = [
    "MAX_ARGUMENT_CHARS",
    "MAX_PREVIEW_CHARS",
    "MAX_TEXT_CHARS",
    "captured_arguments",
    "current_span_ids",
    "epoch_ms",
    "preview",
    "truncate",
    "usage_of",
]

MAX_TEXT_CHARS: Final = 8_000
"""Longest stored `input` and `output` (the list route shows the first 200)."""
MAX_PREVIEW_CHARS: Final = 1_000
"""Longest stored tool-result preview and error message."""
MAX_ARGUMENT_CHARS: Final = 4_000
"""Longest stored argument document (its JSON); longer ones keep a truncated JSON text instead."""


def epoch_ms() -> int:
    """Now, in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters]"


def preview(value: Any) -> str:
    """A tool result as stored: text as is, anything else as redacted JSON; truncated."""
    text = value if isinstance(value, str) else json.dumps(redact(value), default=str)
    return truncate(text, MAX_PREVIEW_CHARS)


def captured_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Tool-call arguments as stored: redacted; too long, a `_truncated` JSON text instead."""
    redacted = redact(arguments)
    text = json.dumps(redacted, default=str)
    if len(text) <= MAX_ARGUMENT_CHARS:
        return dict(redacted)
    return {"_truncated": truncate(text, MAX_ARGUMENT_CHARS)}


def usage_of(llm_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Token usage per agent and model, in order of first use."""
    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for step in llm_steps:
        key = (step["agent_id"], step["model"])
        entry = found.setdefault(
            key, {"agentId": key[0], "model": key[1], "inputTokens": 0, "outputTokens": 0, "llmCalls": 0}
        )
        entry["inputTokens"] += step["input_tokens"] or 0
        entry["outputTokens"] += step["output_tokens"] or 0
        entry["llmCalls"] += 1
    return list(found.values())


def current_span_ids() -> tuple[str | None, str | None]:
    """The trace and span id of the active OpenTelemetry span, if any (W3C hex)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
