"""Admission to the run API: the caller's API key, then the body, then a prepared run.

Both chat endpoints admit a request the same way, in an order chosen so that the cheapest refusal
comes first and an anonymous caller costs the server as little as possible:

1. **The API key** (`Authorization: Bearer sk_…`) must belong to the tenant, project and graph in the
   path (`ApiKeyVerifier`); otherwise 401 with `WWW-Authenticate: Bearer`. The body is not read
   before this succeeds. `--dev` (`Settings.dev`, refused on non-loopback hosts) skips the check.
2. **The body** is read within `Settings.max_body_bytes` (413) and parsed by the endpoint's protocol
   parser (400 naming the field, `Settings.max_messages`).
3. **The runner prepares** the run: unknown graph or conversation is 404, a request the graph cannot
   run is 400, and the user's message is committed.

Every refusal is an `InkeepError`, rendered as problem JSON by the app's exception handler; nothing
has been streamed yet, so the status can still say what went wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request

from inkeep_runtime.errors import InkeepError
from inkeep_runtime.graph.contract import PreparedRun, Runner, RunTarget
from inkeep_runtime.http.auth import bearer_token
from inkeep_runtime.http.endpoint import read_json_body
from inkeep_runtime.protocols.requests import RunRequest, RunSource

if TYPE_CHECKING:
    from inkeep_runtime.app import Services

__all__ = ["BodyParser", "admit_run", "authorize_run", "run_target"]


class BodyParser(Protocol):
    """A protocol's body parser (`parse_chat_completions`, `parse_ui_chat`)."""

    def __call__(self, body: Any, headers: Mapping[str, str], *, max_messages: int) -> RunRequest:
        """Validate `body` into a `RunRequest`; raise `InvalidRequest` naming the bad field."""
        ...


def run_target(request: Request) -> RunTarget:
    """The graph the request's path addresses."""
    path = request.path_params
    return RunTarget(tenant_id=path["tenantId"], project_id=path["projectId"], graph_id=path["graphId"])


async def authorize_run(request: Request, services: Services, target: RunTarget) -> str | None:
    """Check the request's API key against `target` (nothing to check in `--dev` mode).

    Returns:
        The id of the key (None in `--dev` mode).

    Raises:
        Unauthorized: no Bearer header, a malformed, unknown, expired key, or a key of another graph.
    """
    if services.settings.dev:
        return None
    key = bearer_token(request.headers.get("authorization"))
    identity = await services.verifier.verify(
        key, tenant_id=target.tenant_id, project_id=target.project_id, graph_id=target.graph_id
    )
    return identity.key_id


def _runner(services: Services) -> Runner:
    if services.runner is None:
        msg = "The run API is not available: this server has no graph executor configured."
        raise InkeepError(msg)
    return services.runner


async def admit_run(
    request: Request, services: Services, parse: BodyParser, *, source: RunSource = "chat_completions"
) -> tuple[Runner, PreparedRun]:
    """Authorize, read and parse the body, and prepare the run (see the module docstring for the order).

    The run request records `source` and the API key's id (for the query log).

    Returns:
        The runner to stream from, and the prepared run.

    Raises:
        Unauthorized: see `authorize_run`.
        PayloadTooLarge: the body exceeds `Settings.max_body_bytes`.
        InvalidRequest: the body is not JSON, a field is malformed, or the graph cannot run the request.
        NotFound: the graph or the conversation does not exist.
    """
    target = run_target(request)
    key_id = await authorize_run(request, services, target)
    settings = services.settings
    body = await read_json_body(request, settings.max_body_bytes)
    parsed = parse(body, request.headers, max_messages=settings.max_messages)
    run_request = replace(parsed, source=source, api_key_id=key_id)
    runner = _runner(services)
    return runner, await runner.prepare(target, run_request)
