"""Secrets in stored definitions are write-only: responses redact them, writes keep them.

Provider keys in `modelSettings.providerOptions`, and `Authorization`-style values in tool, external
agent and MCP server headers, are stored (the runtime needs them) but never returned: every CRUD
response replaces them with `REDACTED`. A client that sends a document back unchanged (GET → PUT)
sends the placeholder, and `restore` puts the stored value back at the same place, so round trips
keep working. Template strings (`{{...}}`) are not secrets and are shown as written.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["REDACTED", "is_secret_key", "redact", "restore"]

REDACTED: Final = "[redacted]"
_SECRET_KEY: Final = re.compile(
    r"authorization|api[-_]?key|secret|password|passwd|cookie|private[-_]?key"
    r"|(access|refresh|id|auth|bearer|session|client)[-_]?token|^token$",
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    """Whether a field or header named `key` holds a secret value."""
    return _SECRET_KEY.search(key) is not None


def _is_secret_value(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "{{" not in value and value != REDACTED


def redact(value: Any) -> Any:
    """A copy of a JSON value with every secret string replaced by `REDACTED`."""
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_key(str(key)) and _is_secret_value(item) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def restore(new: Any, old: Any) -> Any:
    """`new` with each `REDACTED` placeholder replaced by the value at the same place in `old`.

    A placeholder with nothing stored behind it is dropped (the secret was never known here).
    """
    if isinstance(new, dict):
        before = old if isinstance(old, dict) else {}
        restored: dict[str, Any] = {}
        for key, item in new.items():
            if item == REDACTED:
                if isinstance(before.get(key), str) and before[key] != REDACTED:
                    restored[key] = before[key]
                continue
            restored[key] = restore(item, before.get(key))
        return restored
    if isinstance(new, list):
        before_list = old if isinstance(old, list) else []
        return [restore(item, before_list[i] if i < len(before_list) else None) for i, item in enumerate(new)]
    return new
