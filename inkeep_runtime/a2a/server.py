"""The A2A server's HTTP side: agent-card routes, the JSON-RPC endpoint, and the app hook.

```python
a2a = A2AServer(services)                 # in create_app
endpoints = [..., *a2a.endpoints()]
async with a2a.running(): ...             # in the lifespan: owns the task group that runs A2A tasks
```

Order of admission on `POST .../agents/{graphId}[/{agentId}]/a2a`, cheapest refusal first, all as
problem JSON with an HTTP status because no JSON-RPC handling has happened yet: the API key of the graph
(401, as on the chat routes; `--dev` skips it), the graph and agent (404), the body size (413). From
then on every answer is HTTP 200 with a JSON-RPC response (`jsonrpc.py`), and a streaming method
answers with SSE whose every `data:` line is a JSON-RPC response with the request's id (keep-alive
comments every 15 s; a client that stops reading for 30 s is dropped, the task runs on).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from inkeep_runtime.a2a.card import CARD_CACHE_CONTROL, build_card, card_etag
from inkeep_runtime.a2a.jsonrpc import (
    Envelope,
    RpcError,
    check_version,
    error_response,
    extended_card_not_configured,
    internal_error,
    parse_envelope,
    parse_error,
    push_not_supported,
    requested_version,
    result_response,
    version_for,
)
from inkeep_runtime.a2a.methods import RpcCall, Streamed, call_method
from inkeep_runtime.a2a.tasks import TaskManager
from inkeep_runtime.a2a.wire import HOPS_HEADER, Version
from inkeep_runtime.errors import InkeepError, InvalidRequest, NotFound
from inkeep_runtime.graph.contract import RunTarget
from inkeep_runtime.graph.definition import AgentDefinition, GraphDefinition
from inkeep_runtime.graph.loader import GraphLoader
from inkeep_runtime.http.chat import PING_INTERVAL_S, SEND_TIMEOUT_S
from inkeep_runtime.http.endpoint import Call, Endpoint, read_json_body
from inkeep_runtime.http.problems import request_id_of
from inkeep_runtime.http.run_auth import authorize_run, run_target
from inkeep_runtime.protocols.base import SSE_HEADERS
from inkeep_runtime.store.a2a_tasks import A2ATaskStore
from inkeep_runtime.store.rows import Scope

if TYPE_CHECKING:
    from inkeep_runtime.app import Services

__all__ = ["A2A_PREFIX", "A2AServer", "JsonRpcRequestBody"]

logger = logging.getLogger(__name__)

A2A_PREFIX: Final = "/tenants/{tenantId}/projects/{projectId}/agents/{graphId}"
"""Where a graph's A2A surface lives (Inkeep's documented card paths)."""
_AGENT_PREFIX: Final = f"{A2A_PREFIX}/{{agentId}}"
_CARD_NAMES: Final = ("agent.json", "agent-card.json")


class JsonRpcRequestBody(BaseModel):
    """A JSON-RPC 2.0 request carrying an A2A method (documentation; the handler validates it itself)."""

    model_config = ConfigDict(extra="allow")

    jsonrpc: str = Field(description='Always "2.0".')
    id: str | int | None = Field(description="Echoed in the response (and in every event of a stream).")
    method: str = Field(
        description="A2A 0.3 (`message/send`, `message/stream`, `tasks/get`, `tasks/cancel`, `tasks/resubscribe`) "
        "or 1.0 (`SendMessage`, `SendStreamingMessage`, `GetTask`, `ListTasks`, `CancelTask`, `SubscribeToTask`)."
    )
    params: dict[str, Any] = Field(default_factory=dict)


class A2AServer:
    """Agent cards and JSON-RPC for every graph, and the tasks they run."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._store = A2ATaskStore(services.store)
        self.tasks = TaskManager(self._store, run_deadline_s=services.settings.run_deadline_s)
        # Cards and endpoint checks need names and tool lists only: no credential resolution.
        self._graphs = GraphLoader(services.store, version_of=lambda key: services.definitions_version.get(key, 0))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[A2AServer]:
        """Run A2A tasks for the app's lifetime (enter in the lifespan)."""
        async with self.tasks.running():
            yield self

    def endpoints(self) -> list[Endpoint]:
        """The card routes and the JSON-RPC routes, graph- and agent-level."""
        found: list[Endpoint] = []
        for prefix, what in ((A2A_PREFIX, "the graph (entering at its default agent)"), (_AGENT_PREFIX, "one agent")):
            for name in _CARD_NAMES:
                found.append(
                    Endpoint(
                        method="GET",
                        path=f"{prefix}/.well-known/{name}",
                        summary=f"A2A agent card of {what} ({name})",
                        description=(
                            "The A2A agent card (a hybrid that A2A 0.3 and 1.0 clients both accept). Needs "
                            "`Authorization: Bearer <API key of this graph>` unless the server runs with --dev."
                        ),
                        handler=self._card,
                        tag="A2A",
                        response=dict[str, Any],
                        errors=(401, 404),
                    )
                )
            found.append(
                Endpoint(
                    method="POST",
                    path=f"{prefix}/a2a",
                    summary=f"A2A JSON-RPC endpoint of {what}",
                    description=(
                        "JSON-RPC 2.0 with A2A 0.3 and 1.0 methods (header `A2A-Version: 1.0` with 1.0 methods). "
                        "Streaming methods answer with server-sent events, each a JSON-RPC response. JSON-RPC "
                        "errors are HTTP 200; a missing or wrong API key is a 401 problem."
                    ),
                    handler=self._rpc,
                    tag="A2A",
                    body_schema=JsonRpcRequestBody,
                    response=dict[str, Any],
                    errors=(401, 404, 413),
                )
            )
        return found

    async def _resolve(self, target: RunTarget, agent_id: str | None) -> tuple[GraphDefinition, AgentDefinition | None]:
        graph = await self._graphs.load(Scope(target.tenant_id, target.project_id), target.graph_id)
        if agent_id is None:
            return graph, None
        agent = graph.agents.get(agent_id)
        if agent is None:
            msg = f"Graph '{graph.id}' has no agent '{agent_id}'."
            raise NotFound(msg)
        return graph, agent

    async def _card(self, call: Call) -> Response:
        request = call.request
        target = run_target(request)
        await authorize_run(request, self._services, target)
        agent_id = request.path_params.get("agentId")
        graph, agent = await self._resolve(target, agent_id)
        from inkeep_runtime.app import package_version  # the app imports this module

        card = build_card(
            graph,
            agent,
            rpc_url=_rpc_url(request, target, agent_id),
            version=package_version(),
            is_auth_required=not self._services.settings.dev,
        )
        etag = card_etag(card)
        headers = {"ETag": etag, "Cache-Control": CARD_CACHE_CONTROL}
        if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers=headers)
        return JSONResponse(card, headers=headers)

    async def _rpc(self, call: Call) -> Response:
        request = call.request
        target = run_target(request)
        key_id = await authorize_run(request, self._services, target)
        agent_id = request.path_params.get("agentId")
        await self._resolve(target, agent_id)
        requested = requested_version(request.headers, request.query_params)
        version: Version = version_for(requested)
        try:
            try:
                body = await read_json_body(request, self._services.settings.max_body_bytes)
            except InvalidRequest as exc:
                raise parse_error(exc.detail.removeprefix("Request body is not valid JSON: ")) from exc
            envelope = parse_envelope(body)
            version = envelope.version
            check_version(envelope, requested)
            return await self._answer(request, envelope, target, agent_id, key_id)
        except RpcError as error:
            return JSONResponse(error_response(error, version))

    async def _answer(
        self, request: Request, envelope: Envelope, target: RunTarget, agent_id: str | None, key_id: str | None
    ) -> Response:
        if envelope.operation == "push":
            raise _with_id(push_not_supported(), envelope)
        if envelope.operation == "extended_card":
            raise _with_id(extended_card_not_configured(), envelope)
        runner = self._services.runner
        if runner is None:
            raise _with_id(internal_error("This server has no graph executor configured."), envelope)
        call = RpcCall(
            envelope=envelope,
            target=target,
            agent_id=agent_id,
            api_key_id=key_id,
            hops=_hops(request.headers.get(HOPS_HEADER)),
            max_hops=self._services.settings.max_a2a_hops,
            runner=runner,
            tasks=self.tasks,
            store=self._store,
            run_deadline_s=self._services.settings.run_deadline_s,
        )
        try:
            result = await call_method(call)
        except RpcError as error:
            raise _with_id(error, envelope) from None
        except InkeepError as exc:
            raise _with_id(internal_error(exc.detail), envelope) from exc
        except Exception as exc:
            request_id = request_id_of(request)
            logger.exception("A2A method %s failed (%s)", envelope.method, request_id)
            message = f"An unexpected error occurred; the request id {request_id} identifies it in the server log."
            raise _with_id(internal_error(message), envelope) from exc
        if isinstance(result, Streamed):
            return _sse(envelope, result)
        return JSONResponse(result_response(envelope.request_id, result))


def _with_id(error: RpcError, envelope: Envelope) -> RpcError:
    error.request_id = envelope.request_id
    return error


def _rpc_url(request: Request, target: RunTarget, agent_id: str | None) -> str:
    segments = [target.tenant_id, target.project_id, target.graph_id]
    tenant, project, graph = (quote(s, safe="") for s in segments)
    path = f"/tenants/{tenant}/projects/{project}/agents/{graph}"
    if agent_id is not None:
        path += f"/{quote(agent_id, safe='')}"
    return str(request.base_url).rstrip("/") + path + "/a2a"


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def _sse(envelope: Envelope, streamed: Streamed) -> EventSourceResponse:
    async def frames() -> AsyncIterator[bytes]:
        yield _frame(result_response(envelope.request_id, streamed.first))
        rest = streamed.rest
        try:
            async for result in rest:
                yield _frame(result_response(envelope.request_id, result))
        finally:  # a client that leaves stops listening; the task runs on
            aclose = getattr(rest, "aclose", None)
            if aclose is not None:
                await aclose()

    return EventSourceResponse(
        frames(), headers=dict(SSE_HEADERS), ping=PING_INTERVAL_S, send_timeout=SEND_TIMEOUT_S, sep="\n"
    )


def _hops(value: str | None) -> int:
    """The hop count a peer sent (absent or malformed: 0, this is the first hop)."""
    return int(value) if value is not None and value.isdigit() and len(value) <= 4 else 0
