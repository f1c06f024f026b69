"""The offline demo model's structured answers, for agents with data components.

When a request carries the `response_format` that `agent/components.py` builds (a `data_components`
JSON schema), the offline model answers with the envelope instead of plain text: its usual answer as
a `Text` item, then one item per data component with props made up from the component's schema:

* an enum takes the value named in the agent's name or the user's words, else its first value;
* the first string property is the user's question, the others say what they are for (marked as
  offline demo output);
* numbers are 1, booleans true, arrays empty, objects are filled the same way (required keys only).

The JSON is streamed in small pieces, as a real model streams it, so the runtime's item-by-item
scanning shows in the demo.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["structured_pieces"]

_PIECE_CHARS: Final = 16
_TEXT: Final = "Text"
_MARKER: Final = "[offline demo model]"


def structured_pieces(options: Mapping[str, Any], *, answer: str, user_text: str, agent_name: str | None) -> list[str]:
    """The envelope answer in streaming pieces, or [] when the request does not ask for data components."""
    branches = _branches(options)
    if not branches:
        return []
    hints = f"{agent_name or ''} {user_text}".lower()
    items: list[dict[str, Any]] = [{"id": "text-1", "name": _TEXT, "props": {"text": answer}}]
    for branch in branches:
        properties = _mapping(branch.get("properties"))
        names = _mapping(properties.get("name")).get("enum")
        if not isinstance(names, list) or not names or names[0] == _TEXT:
            continue
        filler = _Filler(user_text, hints)
        props = filler.value(_mapping(properties.get("props")), "props")
        items.append({"id": f"{str(names[0]).lower()}-1", "name": names[0], "props": props})
    text = json.dumps({"dataComponents": items}, ensure_ascii=False)
    return [text[start : start + _PIECE_CHARS] for start in range(0, len(text), _PIECE_CHARS)]


def _branches(options: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    response_format = _mapping(options.get("response_format"))
    json_schema = _mapping(response_format.get("json_schema"))
    if json_schema.get("name") != "data_components":
        return []
    envelope = _mapping(_mapping(json_schema.get("schema")).get("properties"))
    items = _mapping(_mapping(envelope.get("dataComponents")).get("items"))
    branches = items.get("anyOf")
    return [branch for branch in branches if isinstance(branch, Mapping)] if isinstance(branches, list) else []


class _Filler:
    """Makes up props for one component (see the module docstring)."""

    def __init__(self, user_text: str, hints: str) -> None:
        self.user_text = user_text
        self.hints = hints
        self.has_question = False

    def value(self, schema: Mapping[str, Any], name: str) -> Any:
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return next((v for v in enum if isinstance(v, str) and v.lower() in self.hints), enum[0])
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if kind == "object":
            properties = _mapping(schema.get("properties"))
            required = schema.get("required")
            keys = [k for k in required if isinstance(k, str)] if isinstance(required, list) else list(properties)
            return {key: self.value(_mapping(properties.get(key)), key) for key in keys}
        if kind == "string":
            if not self.has_question:
                self.has_question = True
                return self.user_text[:120] or name
            return f"{_MARKER} {schema.get('description') or name}"
        return {"integer": 1, "number": 1, "boolean": True, "array": [], "null": None}.get(str(kind), name)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
