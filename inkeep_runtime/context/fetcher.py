"""Fetch one context variable over HTTP.

The URL, header values and body strings are rendered in the sandbox against `requestContext` and the
variables resolved so far; the variable's credential headers (resolved through `CredentialResolver`)
are merged over the rendered headers afterwards, so a secret never passes through a template and never
reaches template output. The response is read up to a byte limit, parsed as JSON (text otherwise) and
checked against `responseSchema`.

Every failure is a `ContextFetchError` whose message names the variable and what went wrong (HTTP
status, timeout, transport error class, schema pointer) and never the rendered request: that can hold
request-context values, and error messages reach logs and events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx

from inkeep_runtime.context.config import ContextVariableDefinition
from inkeep_runtime.context.templates import ContextTemplateError, TemplateRenderer
from inkeep_runtime.context.validation import validation_errors
from inkeep_runtime.credentials import CredentialError, CredentialResolver
from inkeep_runtime.errors import GraphDefinitionError, UpstreamError

__all__ = ["ContextFetchError", "ContextFetcher"]


class ContextFetchError(UpstreamError):
    """A context variable could not be fetched (its `defaultValue` is used instead)."""

    code = "context_fetch_failed"
    title = "Context Fetch Failed"


class ContextFetcher:
    """Performs the HTTP request of a context variable."""

    def __init__(
        self,
        *,
        renderer: TemplateRenderer,
        http: httpx.AsyncClient | None = None,
        credentials: CredentialResolver | None = None,
        default_timeout_s: float = 10.0,
        max_response_bytes: int = 1_000_000,
    ) -> None:
        """Create a fetcher.

        Args:
            renderer: the template sandbox.
            http: shared client; without one, each fetch opens (and closes) its own.
            credentials: resolves `credentialReferenceId`s; without one, variables that name one fail.
            default_timeout_s: used when `fetchConfig.timeout` is not set.
            max_response_bytes: larger responses fail.
        """
        self._renderer = renderer
        self._http = http
        self._credentials = credentials
        self._default_timeout_s = default_timeout_s
        self._max_response_bytes = max_response_bytes

    async def fetch(self, variable: ContextVariableDefinition, variables: Mapping[str, Any]) -> Any:
        """The variable's value, fetched now.

        Raises:
            ContextFetchError: the request could not be built or sent, or its answer is unusable.
        """
        key, spec = variable.key, variable.fetch
        if spec.transform:
            msg = f"Context variable '{key}': fetchConfig.transform (JMESPath) is not supported by this runtime."
            raise ContextFetchError(msg)
        where = f"context variable '{key}'"
        try:
            url = self._renderer.render_url(spec.url, variables, where=f"fetchConfig.url of {where}")
            headers = {
                name: self._renderer.render(value, variables, where=f"fetchConfig.headers.{name} of {where}")
                for name, value in spec.headers.items()
            }
            body = self._renderer.render_json(spec.body, variables, where=f"fetchConfig.body of {where}")
        except ContextTemplateError as exc:
            raise ContextFetchError(exc.detail) from None
        if any("\r" in value or "\n" in value for value in headers.values()):
            msg = f"Context variable '{key}': a rendered header value contains a line break."
            raise ContextFetchError(msg)
        headers = _merge(headers, await self._credential_headers(variable))
        timeout_s = spec.timeout_s or self._default_timeout_s
        request_args: dict[str, Any] = {"headers": headers, "timeout": timeout_s}
        if body is not None and spec.method != "GET":
            request_args["json"] = body
        try:
            with anyio.fail_after(timeout_s):
                status, content_type, raw = await self._send(spec.method, url, request_args, key)
        except TimeoutError:
            msg = f"Context variable '{key}': the fetch did not answer within {timeout_s:g} s."
            raise ContextFetchError(msg) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # its text can carry the URL: name the class only
            msg = f"Context variable '{key}': the fetch failed ({type(exc).__name__})."
            raise ContextFetchError(msg) from None
        if not 200 <= status < 300:
            msg = f"Context variable '{key}': the fetch answered HTTP {status}."
            raise ContextFetchError(msg)
        value = _parse(raw, content_type)
        self._check(variable, value)
        return value

    async def _credential_headers(self, variable: ContextVariableDefinition) -> dict[str, str]:
        ref_id = variable.credential_reference_id
        if ref_id is None:
            return {}
        if variable.credential is None:
            msg = f"Context variable '{variable.key}' names credential '{ref_id}', which does not exist."
            raise ContextFetchError(msg)
        if self._credentials is None:
            msg = f"Context variable '{variable.key}' names credential '{ref_id}', but no credential store is set up."
            raise ContextFetchError(msg)
        try:
            return await self._credentials.headers_for(variable.credential)
        except CredentialError as exc:  # its message names the reference, never the secret
            msg = f"Context variable '{variable.key}': {exc.detail}"
            raise ContextFetchError(msg) from None

    async def _send(self, method: str, url: str, args: dict[str, Any], key: str) -> tuple[int, str, bytes]:
        async with self._client() as client, client.stream(method, url, **args) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_response_bytes:
                    msg = f"Context variable '{key}': the response is larger than {self._max_response_bytes} bytes."
                    raise ContextFetchError(msg)
                chunks.append(chunk)
            return response.status_code, response.headers.get("content-type", ""), b"".join(chunks)

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http is not None:
            yield self._http
            return
        async with httpx.AsyncClient() as client:
            yield client

    def _check(self, variable: ContextVariableDefinition, value: Any) -> None:
        if variable.response_schema is None:
            return
        label = f"the responseSchema of context variable '{variable.key}'"
        try:
            errors = validation_errors(variable.response_schema, value, root="", label=label)
        except GraphDefinitionError as exc:
            raise ContextFetchError(exc.detail) from None
        if errors:
            where = "; ".join(f"{e.pointer or '/'}: {e.message}" for e in errors[:5])
            msg = f"Context variable '{variable.key}': the response does not match its responseSchema ({where})."
            raise ContextFetchError(msg)


def _merge(headers: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """`headers` with `extra` over them (names compare case-insensitively)."""
    names = {name.lower() for name in extra}
    return {**{k: v for k, v in headers.items() if k.lower() not in names}, **extra}


def _parse(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
