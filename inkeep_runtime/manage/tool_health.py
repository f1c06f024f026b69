"""Tool routes that talk to the MCP server: health checks, tool-list sync and the cached tool list.

Every probe goes through the lifespan's `McpPool` and is bounded by the tool's own timeout
(`config.mcp.server.timeout`, else `Settings.tool_timeout_s`), handshake included, so a server that
accepts connections but never answers costs one timeout, not the pool's longer connect timeout. The
outcome is written to the tool record: `status`, `lastHealthCheck`, `lastError` and, when the server
answered, the tool-list cache (`availableTools`, `lastToolsSync`). The run path reads that cache, so a
successful health check refreshes it too.

Choices where the API document is silent (the behaviour of Inkeep's first public release is followed
where it had one, see `reference/inkeep-behaviour.md` §9.3):

- A `disabled` tool is never probed. Its health check answers 200 with the record unchanged and
  `healthCheck.status` `"disabled"`; `health-check-all` reports it the same way; syncing it is a 409;
  `available-tools` serves its cache without a live call. A tool disabled while a probe was in flight
  stays disabled (the write re-reads the row in its transaction).
- `health-check-all` has `Promise.allSettled` semantics, as in Inkeep: a result is `fulfilled` when
  the check ran and was stored, whatever the tool's health (`data.healthCheck.status` says that), and
  `rejected` only when the check itself failed (e.g. the tool was deleted meanwhile); `successful` and
  `failed` count those two. Checks run concurrently, at most `HEALTH_CHECK_CONCURRENCY` at a time.
- A failed sync stores `needs_auth` (HTTP 401 with `WWW-Authenticate`) or `unhealthy` with `lastError`,
  empties `availableTools` (stale tools are not offered as available), and answers with the MCP
  error's problem: 502 `mcp_needs_auth` (with the challenge in `www_authenticate`), 502
  `mcp_unavailable` or `tool_error`, 504 `tool_timeout`. A 401 is deliberately not used: on this API it
  would mean that *our* caller lacks credentials.
- `available-tools` reads the cache. Only a tool that was never synced (`lastToolsSync` null) is
  synced live once; if that fails the answer is still 200, with an empty list and the stored status.
- Header and environment values never appear in `lastError` or in error details: they are masked in
  any message a server sent back. (The tool record itself, `headers` included, is rendered as by
  `GET .../tools/{id}`.)
- A tool's `credentialReferenceId` is resolved (env, memory, nango, oauth, refreshed if due) and its
  headers are sent over the record's `headers` and `config.mcp.server.headers`, as on the run path; a
  credential that cannot be resolved makes the tool `needs_auth` with the reason in `lastError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import anyio

from inkeep_runtime.credentials import CredentialError
from inkeep_runtime.errors import Conflict, InkeepError, NotFound, ToolError, ToolTimeout
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, project_scope, require_project
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope
from inkeep_runtime.manage.tools import ListedTool, ToolRead, ToolStatus
from inkeep_runtime.mcp.client import McpNeedsAuth, McpToolInfo
from inkeep_runtime.mcp.pool import McpHealth
from inkeep_runtime.mcp.spec import McpConfigError, McpServerSpec, spec_from_config
from inkeep_runtime.store.permissions import read_overrides
from inkeep_runtime.store.rows import Rows, Scope, utc_now

__all__ = [
    "HEALTH_CHECK_CONCURRENCY",
    "AvailableTools",
    "HealthCheck",
    "HealthCheckStatus",
    "HealthSummary",
    "SettledHealthCheck",
    "ToolHealth",
    "added_context_of",
    "endpoints",
    "sync_if_never_synced",
]

logger = logging.getLogger(__name__)

HEALTH_CHECK_CONCURRENCY = 8
"""How many tools `health-check-all` probes at once."""

HealthCheckStatus = Literal["healthy", "unhealthy", "needs_auth", "disabled"]

_REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 4
"""Shorter header values (e.g. `1`, `yes`) are too common to mask without mangling messages."""


class HealthCheck(ApiModel):
    """The outcome of one probe."""

    status: HealthCheckStatus
    error: str | None = None


class ToolHealth(ApiModel):
    """`data` of `POST .../tools/{id}/health-check`: the updated record and the probe's outcome."""

    tool: ToolRead
    health_check: HealthCheck


class SettledHealthCheck(ApiModel):
    """One tool's entry in `health-check-all` (`Promise.allSettled` style)."""

    index: int
    status: Literal["fulfilled", "rejected"]
    data: ToolHealth | None = None
    error: str | None = None


class HealthSummary(ApiModel):
    """`data` of `POST .../tools/health-check-all`."""

    total: int
    successful: int
    failed: int
    results: list[SettledHealthCheck]


class AvailableTools(ApiModel):
    """`data` of `GET .../tools/{id}/available-tools`."""

    available_tools: list[ListedTool]
    last_sync: str | None = None
    status: ToolStatus


# --- probing ----------------------------------------------------------------------------------------------------


async def _spec(call: Call, row: Mapping[str, Any]) -> McpServerSpec:
    """The server spec of a tool record, its credential's headers merged over the record's own.

    Raises:
        McpConfigError: the config cannot be used.
        McpNeedsAuth: the tool's credential reference cannot be resolved (missing, or e.g. expired OAuth tokens).
    """
    headers = dict(row["headers"] or {})
    ref_id, resolver = row.get("credential_reference_id"), call.services.credentials
    if ref_id and resolver is not None:
        scope = Scope(row["tenant_id"], row["project_id"])
        async with call.services.store.read() as session:
            reference = await Rows(session).get("credential_references", scope, ref_id)
        server = ((row["config"] or {}).get("mcp") or {}).get("server") or {}
        url = server.get("url") if isinstance(server, dict) else None
        try:
            if reference is None:
                msg = f"Credential '{ref_id}' does not exist."
                raise CredentialError(msg, credential_id=ref_id)
            extra = await resolver.headers_for(reference, target_url=url if isinstance(url, str) else None)
        except CredentialError as exc:
            raise McpNeedsAuth(exc.detail, www_authenticate="") from None
        names = {name.lower() for name in extra}
        headers = {**{k: v for k, v in headers.items() if k.lower() not in names}, **extra}
    return spec_from_config(row["config"], headers, default_timeout_s=call.services.settings.tool_timeout_s)


def _redact(text: str | None, spec: McpServerSpec | None) -> str | None:
    """`text` with every header and environment value of `spec` (and the token of `Bearer <token>`) masked."""
    if text is None or spec is None:
        return text
    secrets: set[str] = set()
    for _, value in (*spec.headers, *spec.env):
        secrets.update({value, *value.split()})
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret, _REDACTED)
    return text


async def _probe(call: Call, row: Mapping[str, Any]) -> McpHealth:
    """Connect and list the tools; never raises a `ToolError`."""
    try:
        spec = await _spec(call, row)
    except McpConfigError as exc:
        return McpHealth("unhealthy", exc.detail, [])
    except McpNeedsAuth as exc:
        return McpHealth("needs_auth", exc.detail, [])
    with anyio.move_on_after(spec.timeout_s):
        health = await call.services.mcp.health(spec)
        return McpHealth(health.status, _redact(health.error, spec), health.tools)
    return McpHealth("unhealthy", f"MCP server {spec.target} did not answer within {spec.timeout_s:g} s.", [])


async def _discover(call: Call, row: Mapping[str, Any]) -> list[McpToolInfo]:
    """The server's tools, live.

    Raises:
        ToolError: the config is unusable, or the server could not be reached or answered with an error
            (`McpNeedsAuth` when it wants credentials, `ToolTimeout` when it did not answer in time); the
            detail has secrets masked.
    """
    spec: McpServerSpec | None = None
    try:
        spec = await _spec(call, row)
        try:
            with anyio.fail_after(spec.timeout_s):
                tools: list[McpToolInfo] = await call.services.mcp.list_tools(spec)
        except TimeoutError as exc:
            msg = f"MCP server {spec.target} did not list its tools within {spec.timeout_s:g} s."
            raise ToolTimeout(msg) from exc
    except ToolError as exc:
        detail = _redact(exc.detail, spec) or exc.detail
        if detail == exc.detail:
            raise
        raise type(exc)(detail, **exc.extensions) from exc
    return tools


def _tool_list(tools: list[McpToolInfo]) -> list[dict[str, Any]]:
    """The cached form of a tool list (wire names, as the API returns it)."""
    return [{"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema} for tool in tools]


# --- the record -------------------------------------------------------------------------------------------------


async def _load(call: Call) -> tuple[Scope, dict[str, Any]]:
    """The scope and the tool record named by the path.

    Raises:
        NotFound: the project or the tool does not exist.
    """
    scope = project_scope(call)
    async with call.services.store.read() as session:
        rows = Rows(session)
        await require_project(rows, scope)
        row = await rows.get("tools", scope, call.path["id"])
    if row is None:
        raise _missing(scope, call.path["id"])
    return scope, row


def _missing(scope: Scope, tool_id: str) -> NotFound:
    return NotFound(f"Tool '{tool_id}' does not exist in project '{scope.project_id}'.")


async def _save(call: Call, scope: Scope, tool_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Write a probe's outcome, unless the tool was disabled meanwhile; the record as stored.

    Raises:
        NotFound: the tool was deleted meanwhile.
    """
    async with call.services.store.write(scope.key) as session:
        rows = Rows(session)
        current = await rows.get("tools", scope, tool_id)
        if current is None:
            raise _missing(scope, tool_id)
        if current["status"] == "disabled":
            return current
        row = await rows.update("tools", scope, tool_id, changes, label="Tool")
    assert row is not None  # the row was read in this transaction
    call.services.changed(scope)
    return row


async def _check(call: Call, scope: Scope, row: Mapping[str, Any]) -> ToolHealth:
    """Probe one tool and store the outcome (a disabled tool is left alone)."""
    if row["status"] == "disabled":
        return ToolHealth(tool=ToolRead.model_validate(row), health_check=HealthCheck(status="disabled"))
    health = await _probe(call, row)
    now = utc_now()
    changes: dict[str, Any] = {"status": health.status, "last_health_check": now, "last_error": health.error}
    if health.status == "healthy":
        changes.update(available_tools=_tool_list(health.tools), last_tools_sync=now)
    stored = await _save(call, scope, row["id"], changes)
    return ToolHealth(
        tool=ToolRead.model_validate(stored), health_check=HealthCheck(status=health.status, error=health.error)
    )


async def _sync(call: Call, scope: Scope, row: Mapping[str, Any]) -> tuple[dict[str, Any], ToolError | None]:
    """Refresh the tool-list cache live; the stored record and the error that prevented it, if any."""
    now = utc_now()
    try:
        tools = await _discover(call, row)
    except ToolError as exc:
        status = "needs_auth" if isinstance(exc, McpNeedsAuth) else "unhealthy"
        failed: dict[str, Any] = {"status": status, "last_health_check": now, "last_error": exc.detail}
        failed["available_tools"] = []
        return await _save(call, scope, row["id"], failed), exc
    changes: dict[str, Any] = {
        "status": "healthy",
        "last_health_check": now,
        "last_error": None,
        "available_tools": _tool_list(tools),
        "last_tools_sync": now,
    }
    return await _save(call, scope, row["id"], changes), None


async def added_context_of(call: Call, scope: Scope, tool_id: str) -> dict[str, str]:
    """`toolName → addedContext` of one tool (for `GET .../available-tools`)."""
    async with call.services.store.read() as session:
        overrides = await read_overrides(session, scope, [tool_id])
    return {name: text for (_, name), text in overrides.items()}


async def sync_if_never_synced(call: Call, scope: Scope, row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record with its tool list synced live when it never was (a failure leaves the record as it was).

    Permissions are set per tool name, so their routes need the names a server offers even before any run
    or `sync` listed them.
    """
    if row["last_tools_sync"] is not None or row["status"] == "disabled":
        return row
    try:
        tools = await _discover(call, row)
    except ToolError as exc:
        logger.info("tool '%s' could not be listed: %s", row["id"], exc.detail)
        return row
    changes = {"available_tools": _tool_list(tools), "last_tools_sync": utc_now()}
    return await _save(call, scope, row["id"], changes)


# --- handlers ---------------------------------------------------------------------------------------------------


async def check_health(call: Call) -> Any:
    """Probe one tool's MCP server and store its status."""
    scope, row = await _load(call)
    return {"data": (await _check(call, scope, row)).model_dump(mode="json")}


async def check_all_health(call: Call) -> Any:
    """Probe every tool of the project concurrently; one slow server delays only its own entry."""
    scope = project_scope(call)
    async with call.services.store.read() as session:
        rows = Rows(session)
        await require_project(rows, scope)
        tools = await rows.find("tools", scope)
    results: list[SettledHealthCheck] = []
    limiter = anyio.CapacityLimiter(HEALTH_CHECK_CONCURRENCY)

    async def settle(index: int, row: Mapping[str, Any]) -> None:
        async with limiter:
            try:
                data = await _check(call, scope, row)
            except Exception as exc:  # one tool's failure must not fail the others (cancellation is not an Exception)
                logger.warning("Health check of tool %r failed", row["id"], exc_info=not isinstance(exc, InkeepError))
                results.append(SettledHealthCheck(index=index, status="rejected", error=_reason(exc)))
            else:
                results.append(SettledHealthCheck(index=index, status="fulfilled", data=data))

    async with anyio.create_task_group() as task_group:
        for index, row in enumerate(tools):
            task_group.start_soon(settle, index, row)
    results.sort(key=lambda result: result.index)
    successful = sum(result.status == "fulfilled" for result in results)
    summary = HealthSummary(
        total=len(results), successful=successful, failed=len(results) - successful, results=results
    )
    return {"data": summary.model_dump(mode="json")}


def _reason(error: Exception) -> str:
    """Why a check was rejected: our own errors say it; anything else is named only by its type."""
    if isinstance(error, InkeepError):
        return error.detail
    return f"The health check failed unexpectedly ({type(error).__name__})."


async def sync_tools(call: Call) -> Any:
    """Refresh a tool's cached tool list from its MCP server."""
    scope, row = await _load(call)
    if row["status"] == "disabled":
        msg = f"Tool '{row['id']}' is disabled; set its status (PATCH .../tools/{row['id']}/status) before syncing."
        raise Conflict(msg)
    stored, error = await _sync(call, scope, row)
    if error is not None:
        raise error
    return {"data": ToolRead.model_validate(stored).model_dump(mode="json")}


async def available_tools(call: Call) -> Any:
    """The cached tool list; a tool never synced (and not disabled) is synced live once."""
    scope, row = await _load(call)
    if row["last_tools_sync"] is None and row["status"] != "disabled":
        row, _ = await _sync(call, scope, row)
    tool = ToolRead.model_validate(row)
    added = await added_context_of(call, scope, row["id"])
    listed = [ListedTool(**t.model_dump(), added_context=added.get(t.name)) for t in tool.available_tools or []]
    cached = AvailableTools(available_tools=listed, last_sync=tool.last_tools_sync, status=tool.status)
    return {"data": cached.model_dump(mode="json")}


def endpoints() -> list[Endpoint]:
    """The tool routes that reach the MCP server."""
    base = f"{PROJECT_PREFIX}/tools"
    upstream = (401, 404, 409, 502, 504)
    return [
        Endpoint(
            method="POST",
            path=f"{base}/{{id}}/health-check",
            summary="Check Tool Health",
            handler=check_health,
            tag="Tools",
            response=DataEnvelope[ToolHealth],
            errors=(401, 404),
        ),
        Endpoint(
            method="POST",
            path=f"{base}/health-check-all",
            summary="Check All Tools Health",
            handler=check_all_health,
            tag="Tools",
            response=DataEnvelope[HealthSummary],
            errors=(401, 404),
        ),
        Endpoint(
            method="POST",
            path=f"{base}/{{id}}/sync",
            summary="Sync Tool Definitions",
            handler=sync_tools,
            tag="Tools",
            response=DataEnvelope[ToolRead],
            errors=upstream,
        ),
        Endpoint(
            method="GET",
            path=f"{base}/{{id}}/available-tools",
            summary="Get Available Tools",
            handler=available_tools,
            tag="Tools",
            response=DataEnvelope[AvailableTools],
            errors=(401, 404),
        ),
    ]
