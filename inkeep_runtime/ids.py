"""Identifier types and generation."""

from __future__ import annotations

import re
import secrets
from typing import Final, NewType

__all__ = ["ID_PATTERN", "AgentId", "GraphId", "ProjectId", "TenantId", "is_valid_id", "new_id"]

TenantId = NewType("TenantId", str)
ProjectId = NewType("ProjectId", str)
GraphId = NewType("GraphId", str)
AgentId = NewType("AgentId", str)

ID_PATTERN: Final = r"^[a-zA-Z0-9_-]+$"
_ID_RE: Final = re.compile(ID_PATTERN)


def is_valid_id(value: str) -> bool:
    """Tell whether `value` is a URL-safe resource id of 1 to 255 characters."""
    return 1 <= len(value) <= 255 and _ID_RE.fullmatch(value) is not None


def new_id() -> str:
    """Return a fresh random id that satisfies `ID_PATTERN`."""
    return secrets.token_hex(12)
