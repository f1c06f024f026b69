"""Find the items of a streamed `{"dataComponents": [...]}` answer, each the moment it is complete.

`ItemScanner` reads model text chunk by chunk with a small character-level state machine (strings,
escapes, container depth) and reports:

* `Item(index, raw)` when the object at `dataComponents[index]` has just closed (its raw JSON text,
  parsed by the caller), and
* `Partial(index, value)` for the item still being written, parsed after closing its open strings and
  containers (`close_partial`), so a `Text` item's prose can be streamed while it is being typed.

What it tolerates, because real models do it: a code fence around the JSON (```` ```json ````), a bare
array instead of the envelope, other keys beside `dataComponents`, and text after the closing brace.
An answer whose first visible character is not `{`, `[` or a fence is prose (`is_prose`); the caller
streams `prose_text` as one `Text` item. What it refuses (`error`): an item that is not an object, and an answer
that ends before the list is closed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["Item", "ItemScanner", "Partial", "close_partial"]

_ENVELOPE_KEY: Final = "dataComponents"
_PARTIAL_ESCAPE: Final = re.compile(r"\\(u[0-9a-fA-F]{0,3})?$")


@dataclass(frozen=True, slots=True)
class Item:
    """`dataComponents[index]` is complete; `raw` is its JSON text."""

    index: int
    raw: str


@dataclass(frozen=True, slots=True)
class Partial:
    """The best parse so far of the item being written (None: nothing parseable yet)."""

    index: int
    value: Any


def close_partial(raw: str, stack: list[str], *, in_string: bool) -> Any:
    """Parse a JSON prefix by closing what is open; None when even that is not valid JSON.

    Args:
        raw: the prefix.
        stack: the open containers (`{` or `[`) of the prefix, outermost first.
        in_string: whether the prefix ends inside a string.
    """
    text = raw
    if in_string:
        text = _PARTIAL_ESCAPE.sub("", text) + '"'
    else:
        text = text.rstrip()
        if text.endswith(","):
            text = text[:-1]
    text += "".join("}" if opener == "{" else "]" for opener in reversed(stack))
    try:
        return json.loads(text)
    except ValueError:
        return None


class ItemScanner:
    """Incremental scanner of one model answer (one instance per model call)."""

    def __init__(self) -> None:
        self.mode: Literal["lead", "json", "prose"] = "lead"
        self.error: str | None = None
        """Why the answer is unusable (set once; scanning stops)."""
        self.item_count = 0
        self._text = ""
        self._pos = 0
        """Next character of `_text` to scan."""
        self._stack: list[str] = []
        self._in_string = False
        self._escaped = False
        self._string_start = 0
        self._last_string: str | None = None
        self._key: str | None = None
        """The envelope key whose value comes next."""
        self._list_depth: int | None = None
        """Depth of the open `dataComponents` list (None: not open yet)."""
        self._is_list_closed = False
        self._item_start: int | None = None

    @property
    def is_prose(self) -> bool:
        """Whether the answer is plain text rather than JSON."""
        return self.mode == "prose"

    @property
    def has_content(self) -> bool:
        """Whether any visible (non-blank) text arrived."""
        return self.mode != "lead"

    def feed(self, chunk: str) -> list[Item | Partial]:
        """Scan one more chunk (in prose mode nothing is found: read `prose_text`)."""
        self._text += chunk
        if self.mode == "lead":
            self._skip_lead()
        if self.mode != "json" or self.error is not None:
            return []
        found: list[Item | Partial] = []
        self._scan(found)
        if self._item_start is not None and self.error is None:
            # Only the item being written can hold streaming prose; re-parse it when the chunk touched it.
            value = close_partial(self._text[self._item_start :], self._item_stack(), in_string=self._in_string)
            found.append(Partial(self.item_count, value))
        return found

    def finish(self) -> str | None:
        """The error of a complete answer, if it has one (also sets `error`)."""
        if self.error is None and self.mode == "json":
            if self._list_depth is None:
                self.error = f'The JSON answer has no "{_ENVELOPE_KEY}" list.'
            elif not self._is_list_closed:
                self.error = f'The JSON answer ended before its "{_ENVELOPE_KEY}" list was closed.'
        return self.error

    @property
    def prose_text(self) -> str:
        """The prose received so far (leading blanks dropped); empty unless `is_prose`."""
        return self._text if self.mode == "prose" else ""

    def _skip_lead(self) -> None:
        stripped = self._text.lstrip()
        if not stripped:
            return
        if stripped.startswith("`"):
            newline = stripped.find("\n")
            if newline < 0:
                if len(stripped) >= 3 and not stripped.startswith("```"):
                    self._start("prose", stripped)
                return
            rest = stripped[newline + 1 :]
            self._text = rest
            if rest.strip():
                self._skip_lead()
            return
        self._start("json" if stripped[0] in "{[" else "prose", stripped)

    def _start(self, mode: Literal["json", "prose"], text: str) -> None:
        self.mode = mode
        self._text = text
        if mode == "json" and text.startswith("["):
            self._list_depth = 1  # a bare list: the items sit right inside it

    def _item_stack(self) -> list[str]:
        assert self._list_depth is not None
        return self._stack[self._list_depth :]

    def _scan(self, found: list[Item | Partial]) -> None:
        text = self._text
        position = self._pos
        while position < len(text) and self.error is None:
            char = text[position]
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
                    self._on_string_end(position)
            elif char == '"':
                self._in_string = True
                self._string_start = position
            elif char in "{[":
                self._open(char, position)
            elif char in "}]":
                self._close(position, found)
            elif char == ":" and len(self._stack) == 1:
                self._key = self._last_string
            elif char == "," and len(self._stack) == 1:
                self._key = None
            elif not char.isspace() and char != "," and self._is_in_list_gap():
                self.error = f'Item {self.item_count + 1} of "{_ENVELOPE_KEY}" is not a JSON object.'
            position += 1
        self._pos = position

    def _on_string_end(self, position: int) -> None:
        if self._is_in_list_gap():
            self.error = f'Item {self.item_count + 1} of "{_ENVELOPE_KEY}" is not a JSON object.'
        elif len(self._stack) == 1:
            try:
                self._last_string = json.loads(self._text[self._string_start : position + 1])
            except ValueError:
                self._last_string = None

    def _is_in_list_gap(self) -> bool:
        """Inside the open list, between items."""
        return self._list_depth is not None and not self._is_list_closed and len(self._stack) == self._list_depth

    def _open(self, char: str, position: int) -> None:
        if self._is_in_list_gap():
            if char != "{":
                self.error = f'Item {self.item_count + 1} of "{_ENVELOPE_KEY}" is not a JSON object.'
                return
            self._item_start = position
        self._stack.append(char)
        if (
            char == "["
            and self._list_depth is None
            and len(self._stack) == 2  # the envelope's own value
            and self._key == _ENVELOPE_KEY
        ):
            self._list_depth = 2

    def _close(self, position: int, found: list[Item | Partial]) -> None:
        if not self._stack:
            return  # stray text after the answer
        self._stack.pop()
        depth = len(self._stack)
        if self._list_depth is not None and not self._is_list_closed:
            if depth == self._list_depth and self._item_start is not None:
                found.append(Item(self.item_count, self._text[self._item_start : position + 1]))
                self.item_count += 1
                self._item_start = None
            elif depth == self._list_depth - 1:
                self._is_list_closed = True
        if depth == 1:
            self._key = None
