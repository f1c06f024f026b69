"""`POST /tenants/{t}/projects/{p}/graphs/{g}/v1/chat/completions`: OpenAI Chat Completions over a graph.

The request is admitted by `run_auth.admit_run` (API key, body, prepared run); refusals are problem
JSON. Then, following OpenAI's semantics, the answer streams only when the body says `"stream": true`
(`chat.completion.chunk` SSE through `OpenAIStreamAdapter`); otherwise the events are folded into one
`chat.completion` (`OpenAICompletionCollector`), and a run that failed is problem JSON with the failure's
status. Every successful response carries `x-conversation-id`.

This module also holds what both chat endpoints share once a run is prepared (`event_stream`):

* The adapter's payloads go out as `data:` lines through sse-starlette's `EventSourceResponse`
  (`ping=15`, `send_timeout`), which cancels the iteration of `Runner.stream` when the client
  disconnects; the cancellation reaches the model call and pending tool calls. A non-streaming
  completion gets the same treatment by watching for `http.disconnect` while it collects.
* Once the 200 has gone out its status cannot change (starlette's "response already started" rule):
  an exception escaping the runner is logged with the request id and becomes the protocol's own
  error frame (`encode_error`), and the stream ends cleanly. The problem is opaque (it names only the
  request id) unless the exception is an `InkeepError`, whose detail is written for clients.
* The per-token path is one `adapter.encode` and one string concatenation; frames are handed to
  sse-starlette as bytes, so it builds no `ServerSentEvent` per token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

import anyio
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from inkeep_runtime.errors import InkeepError
from inkeep_runtime.events import Problem, RunEvent
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.http.problems import PROBLEM_CONTENT_TYPE, problem_response, request_id_of
from inkeep_runtime.http.run_auth import admit_run
from inkeep_runtime.protocols.base import ProtocolAdapter, sse_frame
from inkeep_runtime.protocols.openai_sse import OpenAICompletionCollector, OpenAIStreamAdapter
from inkeep_runtime.protocols.requests import ChatCompletionsBody, parse_chat_completions

if TYPE_CHECKING:
    from inkeep_runtime.app import Services

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "PING_INTERVAL_S",
    "RUN_PREFIX",
    "SEND_TIMEOUT_S",
    "chat_endpoints",
    "event_stream",
    "internal_problem",
]

logger = logging.getLogger(__name__)

RUN_PREFIX = "/tenants/{tenantId}/projects/{projectId}/graphs/{graphId}"
"""Where a graph's run API lives."""
CHAT_COMPLETIONS_PATH = f"{RUN_PREFIX}/v1/chat/completions"
PING_INTERVAL_S = 15
"""Keep-alive comment interval, so proxies do not close a quiet stream (a long tool call)."""
SEND_TIMEOUT_S = 30.0
"""A client that accepts no bytes for this long is treated as gone (its run is cancelled)."""
_CLIENT_CLOSED_REQUEST = 499
"""nginx's status for "the client went away first"; only the access log ever sees it."""


def internal_problem(request_id: str) -> Problem:
    """The opaque problem shown when something unexpected broke a run (details stay in the log)."""
    detail = f"An unexpected error occurred; the request id {request_id} identifies it in the server log."
    return Problem(code="internal_server_error", title="Internal Server Error", status=500, detail=detail)


def event_stream(
    request: Request, adapter: ProtocolAdapter, events: AsyncIterator[RunEvent], headers: Mapping[str, str]
) -> EventSourceResponse:
    """Stream a run's events as the adapter's SSE frames (see the module docstring)."""
    return EventSourceResponse(
        _frames(adapter, events, request_id_of(request)),
        headers={**adapter.headers, **headers},
        media_type=adapter.media_type,
        ping=PING_INTERVAL_S,
        send_timeout=SEND_TIMEOUT_S,
        sep="\n",
    )


def _sse(payloads: list[str]) -> bytes:
    if len(payloads) == 1:  # the common case: one text delta
        return sse_frame(payloads[0]).encode()
    return "".join(map(sse_frame, payloads)).encode()


async def _close(events: AsyncIterator[RunEvent]) -> None:
    """Close the runner's stream (a no-op when it already ended) so its `finally` runs now, in this task."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


async def _frames(adapter: ProtocolAdapter, events: AsyncIterator[RunEvent], request_id: str) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            payloads = adapter.encode(event)
            if payloads:
                yield _sse(payloads)
        if not adapter.is_finished:
            logger.warning("run stream ended without RunCompleted or RunFailed (%s)", request_id)
        tail = adapter.finish()
    except InkeepError as exc:  # the contract says RunFailed instead, but a deliberate error is safe to show
        logger.warning("run raised %s after its response started (%s)", exc.code, request_id, exc_info=exc)
        tail = adapter.encode_error(Problem(code=exc.code, title=exc.title, status=exc.status, detail=exc.detail))
    except Exception:  # CancelledError (disconnect) is a BaseException and passes through
        logger.exception("run failed after its response started (%s)", request_id)
        tail = adapter.encode_error(internal_problem(request_id))
    finally:
        await _close(events)
    if tail:
        yield _sse(tail)


async def _collect(request: Request, events: AsyncIterator[RunEvent], collector: OpenAICompletionCollector) -> bool:
    """Feed every event to `collector`; cancel the run and return False if the client disconnects first.

    Raises:
        Exception: whatever escaped the runner's stream.
    """
    is_disconnected = False
    failure: Exception | None = None

    async def watch_disconnect() -> None:
        nonlocal is_disconnected
        while (await request.receive())["type"] != "http.disconnect":
            pass
        is_disconnected = True
        group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watch_disconnect)
        try:
            async for event in events:
                collector.add(event)
        except Exception as exc:  # raised after the task group, so it is not wrapped in an ExceptionGroup
            failure = exc
        finally:
            await _close(events)
        group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return not is_disconnected


def _problem_json(request: Request, problem: Problem, headers: Mapping[str, str]) -> JSONResponse:
    """A failed run as problem JSON (the same fields as `http.problems.problem_body`)."""
    body = {
        "type": f"urn:inkeep:problem:{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        "requestId": request_id_of(request),
        "code": problem.code,
        "error": {"code": problem.code, "message": problem.detail},
    }
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_CONTENT_TYPE, headers=dict(headers))


async def chat_completions(call: Call) -> Response:
    """Run one turn of the graph for an OpenAI Chat Completions request."""
    services: Services = call.services
    request = call.request
    runner, prepared = await admit_run(request, services, parse_chat_completions)
    run_request = prepared.request
    headers = {"x-conversation-id": prepared.conversation_id}
    completion_id = f"chatcmpl-{prepared.run_id}"
    created = int(time.time())
    # RunStarted.model (the model that really answers) replaces this before the first chunk.
    model = run_request.options.model or prepared.target.graph_id
    if run_request.is_streaming:
        adapter = OpenAIStreamAdapter(
            model=model,
            completion_id=completion_id,
            created=created,
            include_usage=bool(run_request.include_usage),
            emit_operations=run_request.emit_operations,
        )
        return event_stream(request, adapter, runner.stream(prepared), headers)
    collector = OpenAICompletionCollector(model=model, completion_id=completion_id, created=created)
    try:
        is_answered = await _collect(request, runner.stream(prepared), collector)
    except Exception as exc:
        return problem_response(request, exc)  # logged with the request id; opaque unless an InkeepError
    if not is_answered:
        return Response(status_code=_CLIENT_CLOSED_REQUEST)
    result = collector.result()
    if isinstance(result, Problem):
        return _problem_json(request, result, headers)
    return JSONResponse(result, headers=headers)


def chat_endpoints() -> list[Endpoint]:
    """The OpenAI-compatible run endpoint (the body is read by the handler, after the API key is checked)."""
    return [
        Endpoint(
            method="POST",
            path=CHAT_COMPLETIONS_PATH,
            summary="Chat with a graph (OpenAI Chat Completions)",
            description=(
                "Send an OpenAI Chat Completions body (`model`, `messages`, `stream`, `stream_options`, plus "
                "`conversationId` and `requestContext`) with `Authorization: Bearer <API key of this graph>`. "
                "`stream: true` answers with `chat.completion.chunk` server-sent events ending in `data: [DONE]`; "
                "otherwise one `chat.completion`. Header `x-emit-operations: true` adds transfers, delegations "
                "and tool calls as `data-operation` JSON in the content. The response's `x-conversation-id` "
                "header names the conversation to continue."
            ),
            body_schema=ChatCompletionsBody,
            handler=chat_completions,
            tag="Chat",
            errors=(400, 401, 404, 413),
        )
    ]
