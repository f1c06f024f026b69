"""The template sandbox of context configs and agent instructions.

Templates are jinja2 running in `ImmutableSandboxedEnvironment` with `StrictUndefined`:

- Only what the caller passes is reachable: `requestContext` and the resolved context variables.
  Jinja's default globals (`range`, `cycler`, `joiner`, `namespace`, `lipsum`, `dict`) are removed,
  there is no loader (no `include`/`import`/`extends`), no `config`, `request`, environment variables
  or server objects, and the sandbox refuses underscore attributes (`''.__class__`), unsafe callables
  and mutation of the values.
- An undefined name or attribute is a `ContextTemplateError` naming the template and the name, never
  a silent empty string (Inkeep's engine renders missing values as ``""``; we deliberately do not).
- Non-string values render as JSON (`{{userProfile}}` → `{"name": "Ada"}`), as Inkeep's engine does.
- Templates of fetch URLs percent-encode every value they insert (`safe=""`), so a request-context
  value such as `../admin?x=1` stays inside its path segment (`..%2Fadmin%3Fx%3D1`); a value that is
  exactly `.` or `..` has its dots encoded too, so it cannot become a dot segment.
- Values are data: a rendered value is never rendered again as a template.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from inkeep_runtime.errors import GraphDefinitionError

__all__ = ["ContextTemplateError", "TemplateRenderer", "has_template", "url_quote"]

_MARKERS: Final = ("{{", "{%", "{#")
_MAX_REPEAT: Final = 100_000
"""Longest string or list a template may build with `*`."""
_MAX_EXPONENT: Final = 64
_CACHE_SIZE: Final = 512


class ContextTemplateError(GraphDefinitionError):
    """A template of the graph cannot be rendered: undefined name, syntax error, or refused by the sandbox."""

    code = "invalid_template"
    title = "Invalid Template"


def has_template(text: str) -> bool:
    """Whether `text` contains jinja markup (plain text is used as is, at no cost)."""
    return any(marker in text for marker in _MARKERS)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises UndefinedError here
    return json.dumps(value, ensure_ascii=False, default=str)


def url_quote(value: Any) -> str:
    """Percent-encode a value for any part of a URL (`/`, `?`, `#`, `&`, `=` included)."""
    encoded = quote(_as_text(value), safe="")
    return encoded.replace(".", "%2E") if encoded in {".", ".."} else encoded


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with no globals and bounded `*` and `**`."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, finalize: Callable[[Any], str]) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, finalize=finalize, cache_size=0)
        self.globals.clear()

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                msg = f"the exponent {right} is larger than {_MAX_EXPONENT}"
                raise SecurityError(msg)
            return operator.pow(left, right)
        for sequence, count in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(count, int)
                and count * len(sequence) > _MAX_REPEAT
            ):
                msg = f"repeating a value to {count * len(sequence)} items is more than {_MAX_REPEAT}"
                raise SecurityError(msg)
        return operator.mul(left, right)


class TemplateRenderer:
    """Renders templates in the sandbox, compiling each distinct source once."""

    def __init__(self) -> None:
        self._text = _Sandbox(_as_text)
        self._url = _Sandbox(url_quote)
        self._compiled: dict[tuple[bool, str], Template] = {}

    def render(self, source: str, variables: Mapping[str, Any], *, where: str) -> str:
        """Render `source` with `variables`; plain text comes back unchanged without rendering.

        Args:
            source: the template.
            variables: every name the template may use.
            where: what the template is, for error messages ("the instructions of agent 'router'").

        Raises:
            ContextTemplateError: undefined name, invalid syntax, or an operation the sandbox refuses.
        """
        if not has_template(source):
            return source
        return self._render(False, source, variables, where)

    def render_url(self, source: str, variables: Mapping[str, Any], *, where: str) -> str:
        """Render a URL template, percent-encoding every inserted value (see the module docstring).

        Raises:
            ContextTemplateError: as `render`.
        """
        if not has_template(source):
            return source
        return self._render(True, source, variables, where)

    def render_json(self, value: Any, variables: Mapping[str, Any], *, where: str) -> Any:
        """A copy of a JSON value with every string rendered as a template (keys are kept as written).

        Raises:
            ContextTemplateError: as `render`.
        """
        if isinstance(value, str):
            return self.render(value, variables, where=where)
        if isinstance(value, Mapping):
            return {k: self.render_json(v, variables, where=f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.render_json(v, variables, where=f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    def names(self, source: str) -> set[str]:
        """The top-level names a template uses (empty for plain text or a syntax error)."""
        if not has_template(source):
            return set()
        try:
            return set(meta.find_undeclared_variables(self._text.parse(source)))
        except TemplateSyntaxError:
            return set()

    def _render(self, is_url: bool, source: str, variables: Mapping[str, Any], where: str) -> str:
        available = ", ".join(sorted(variables)) or "none"
        try:
            template = self._compiled.get((is_url, source))
            if template is None:
                template = (self._url if is_url else self._text).from_string(source)
                if len(self._compiled) >= _CACHE_SIZE:
                    self._compiled.clear()
                self._compiled[(is_url, source)] = template
            return template.render(variables)
        except UndefinedError as exc:
            msg = f"The template of {where} uses an undefined variable: {exc.message} (available: {available})."
            raise ContextTemplateError(msg) from None
        except SecurityError as exc:
            msg = f"The template of {where} was refused by the sandbox: {str(exc).rstrip('.')}."
            raise ContextTemplateError(msg) from None
        except TemplateSyntaxError as exc:
            msg = f"The template of {where} is not valid jinja: {exc.message} (line {exc.lineno})."
            raise ContextTemplateError(msg) from None
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            msg = f"The template of {where} failed: {type(exc).__name__}: {exc}."
            raise ContextTemplateError(msg) from None
