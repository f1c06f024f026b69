"""The A2A methods: send (blocking, non-blocking, streaming), get, list, cancel, subscribe.

Each method gets an `RpcCall` (the authorized graph, the validated envelope) and returns either a JSON
`result` or, for the streaming methods, the first result and an async iterator of the rest (the route
turns them into SSE). Failures are `RpcError`s.

A send runs through the same `Runner` as the chat routes (`prepare`, then `stream`): the A2A
`contextId` is our conversation id (absent: a new conversation, whose id the task reports), the user's
text comes from the message's parts, and an agent-level endpoint makes that agent answer first. The run
itself belongs to the `TaskManager`, so a blocking send that loses its client still finishes the task.

Continuing a *task* (`message.taskId`) is refused with `-32004`: our tasks never stop to wait for input,
so a finished task cannot take more messages; the same `contextId` continues the conversation instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, Final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from inkeep_runtime.a2a.jsonrpc import (
    Envelope,
    internal_error,
    invalid_params,
    task_not_cancelable,
    task_not_found,
    unsupported_operation,
)
from inkeep_runtime.a2a.params import SendParams, parse_send, parse_task_query
from inkeep_runtime.a2a.tasks import LiveTask, TaskManager, new_record, record_to_task
from inkeep_runtime.a2a.wire import TERMINAL_STATES, ArtifactUpdate, StatusUpdate, Update, agent_message, wire_for
from inkeep_runtime.errors import InkeepError, InvalidRequest, NotFound
from inkeep_runtime.graph.contract import Runner, RunTarget
from inkeep_runtime.ids import new_id
from inkeep_runtime.protocols.requests import RunRequest
from inkeep_runtime.store.a2a_tasks import A2ATaskRecord, A2ATaskStore
from inkeep_runtime.store.rows import Scope

__all__ = ["RpcCall", "Streamed", "call_method"]

_CANCEL_WAIT_S: Final = 10.0
"""How long `tasks/cancel` waits for the run to wind down (it stores the partial answer meanwhile)."""
_REMOTE_POLL_S: Final = 0.5
_PAGE_SIZE: Final = 50
_MAX_PAGE_SIZE: Final = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class RpcCall:
    """One authorized JSON-RPC request to a graph (or one agent of it)."""

    envelope: Envelope
    target: RunTarget
    agent_id: str | None
    """The agent the endpoint addresses (None: the graph)."""
    api_key_id: str | None
    hops: int
    """A2A hops that led here (`x-inkeep-a2a-hops`, sent by runtimes that delegate over A2A)."""
    max_hops: int
    runner: Runner
    tasks: TaskManager
    store: A2ATaskStore
    run_deadline_s: float

    @property
    def scope(self) -> Scope:
        """The tenant and project."""
        return Scope(self.target.tenant_id, self.target.project_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Streamed:
    """A streaming answer: the first result, then one result per update until the stream ends."""

    first: dict[str, Any]
    rest: AsyncIterator[dict[str, Any]]


async def call_method(call: RpcCall) -> dict[str, Any] | Streamed:
    """Run the envelope's method.

    Raises:
        RpcError: the spec error to answer with (without the request id; the route adds it).
    """
    operation = call.envelope.operation
    if operation in {"send", "stream"}:
        return await _send(call, is_streaming=operation == "stream")
    if operation == "get":
        query = parse_task_query(call.envelope.params)
        return wire_for(call.envelope.version).task(await _record(call, query.task_id, query.history_length))
    if operation == "cancel":
        return await _cancel(call)
    if operation == "subscribe":
        return await _subscribe(call)
    assert operation == "list", operation  # push and extended_card are answered by the route
    return await _list(call)


async def _send(call: RpcCall, *, is_streaming: bool) -> dict[str, Any] | Streamed:
    params = parse_send(call.envelope.params, call.envelope.version)
    live = await _submit(call, params)
    wire = wire_for(call.envelope.version)
    if is_streaming:
        snapshot, updates = live.subscribe()  # no await since the start: nothing can be missed
        return Streamed(first=wire.stream_task(snapshot), rest=_results(updates, call))
    if params.is_blocking:
        await live.done.wait()  # bounded by the task's own deadline (TaskManager)
    return wire.send_result(live.snapshot(params.history_length))


async def _submit(call: RpcCall, params: SendParams) -> LiveTask:
    if params.task_id is not None:
        known = await _record(call, params.task_id)
        state = known["status"]["state"]
        message = (
            f"task '{params.task_id}' is {state} and takes no further messages (tasks here never wait for "
            f"input); send a new message with contextId '{known['contextId']}' to continue the conversation."
        )
        raise unsupported_operation(message)
    if call.hops > call.max_hops:
        message = (
            f"A2A hop limit reached ({call.hops} hops, at most {call.max_hops}): a chain of servers delegating "
            "to each other, probably a loop between them."
        )
        raise unsupported_operation(message)
    request = RunRequest(
        conversation_id=params.context_id,
        user_text=params.user_text,
        request_context=params.request_context,
        a2a_hops=call.hops,
        shows_status_updates=False,  # A2A peers get task status updates, not progress summaries
        source="a2a",
        api_key_id=call.api_key_id,
    )
    try:
        prepared = await call.runner.prepare(call.target, request)
    except NotFound as exc:
        if params.context_id is None:
            raise internal_error(exc.detail) from exc
        raise invalid_params(field="message.contextId", message=exc.detail) from exc
    except InvalidRequest as exc:
        field = exc.errors[0].pointer.lstrip("/").replace("/", ".") if exc.errors else "metadata.requestContext"
        raise invalid_params(field=field or "metadata.requestContext", message=exc.detail) from exc
    except InkeepError as exc:
        raise internal_error(exc.detail) from exc
    if call.agent_id is not None:
        prepared = replace(prepared, agent_id=call.agent_id)  # the agent-level endpoint: this agent answers first
    record = new_record(
        task_id=new_id(),
        graph_id=call.target.graph_id,
        agent_id=call.agent_id,
        prepared=prepared,
        message=params.message,
    )
    return await call.tasks.start(call.scope, record, prepared, call.runner)


async def _results(updates: MemoryObjectReceiveStream[Update], call: RpcCall) -> AsyncIterator[dict[str, Any]]:
    wire = wire_for(call.envelope.version)
    async with updates:
        async for update in updates:
            yield wire.update(update)


async def _stored(call: RpcCall, task_id: str) -> A2ATaskRecord:
    """The stored task of this graph (unknown ids and other graphs' tasks alike are not found)."""
    try:
        record = await call.store.get(call.scope, task_id)
    except InkeepError as exc:
        raise internal_error(exc.detail) from exc
    if record is None or record.graph_id != call.target.graph_id:
        raise task_not_found(task_id)
    if call.tasks.live(call.scope, task_id) is None and call.tasks.is_stale(record):
        # the process that ran it stopped before storing the end: say so, once and for all
        message = agent_message([{"text": _STALE}], message_id=new_id(), task_id=task_id, context_id=record.context_id)
        await call.store.finish(call.scope, task_id, state="failed", status_message=message, artifacts=record.artifacts)
        record = await call.store.get(call.scope, task_id) or record
    return record


_STALE: Final = "The server process running this task stopped before it finished."


async def _record(call: RpcCall, task_id: str, history_length: int | None = None) -> dict[str, Any]:
    live = call.tasks.live(call.scope, task_id)
    if live is not None and live.graph_id == call.target.graph_id:
        return live.snapshot(history_length)
    return record_to_task(await _stored(call, task_id), history_length=history_length)


async def _cancel(call: RpcCall) -> dict[str, Any]:
    query = parse_task_query(call.envelope.params)
    wire = wire_for(call.envelope.version)
    live = call.tasks.live(call.scope, query.task_id)
    if live is not None and live.graph_id == call.target.graph_id:
        if live.is_terminal:
            raise task_not_cancelable(query.task_id, live.state)
        live.stop("client")
        with anyio.move_on_after(_CANCEL_WAIT_S):
            await live.done.wait()
        return wire.task(live.snapshot())
    record = await _stored(call, query.task_id)
    if record.state in TERMINAL_STATES:
        raise task_not_cancelable(query.task_id, record.state)
    await call.store.request_cancel(call.scope, query.task_id)  # another process runs it and polls for this
    with anyio.move_on_after(call.tasks.cancel_poll_s * 3 + 2):
        while record.state not in TERMINAL_STATES:
            await anyio.sleep(_REMOTE_POLL_S)
            record = await _stored(call, query.task_id)
    return wire.task(record_to_task(record))


async def _subscribe(call: RpcCall) -> Streamed:
    query = parse_task_query(call.envelope.params)
    wire = wire_for(call.envelope.version)
    live = call.tasks.live(call.scope, query.task_id)
    if live is not None and live.graph_id == call.target.graph_id and not live.is_terminal:
        snapshot, updates = live.subscribe()
        return Streamed(first=wire.stream_task(snapshot), rest=_results(updates, call))
    record = await _stored(call, query.task_id)
    if record.state in TERMINAL_STATES:
        message = f"task '{query.task_id}' is already {record.state}; read it with tasks/get."
        raise unsupported_operation(message)
    return Streamed(first=wire.stream_task(record_to_task(record)), rest=_poll_remote(call, record))


async def _poll_remote(call: RpcCall, record: A2ATaskRecord) -> AsyncIterator[dict[str, Any]]:
    """Follow a task another process runs: only its end is visible from here."""
    wire = wire_for(call.envelope.version)
    with anyio.move_on_after(call.run_deadline_s + 60):
        while record.state not in TERMINAL_STATES:
            await anyio.sleep(_REMOTE_POLL_S)
            record = await _stored(call, record.id)
    if record.state not in TERMINAL_STATES:
        return
    for artifact in record.artifacts:
        yield wire.update(_artifact_update(record, artifact))
    yield wire.update(_status_update(record))


def _artifact_update(record: A2ATaskRecord, artifact: dict[str, Any]) -> Update:
    return ArtifactUpdate(task_id=record.id, context_id=record.context_id, artifact=artifact, append=False)


def _status_update(record: A2ATaskRecord) -> Update:
    return StatusUpdate(
        task_id=record.id,
        context_id=record.context_id,
        state=record.state,
        timestamp=record.updated_at,
        message=record.status_message,
        metadata=record.metadata,
    )


def _page_params(params: dict[str, Any]) -> tuple[int, int]:
    size = params.get("pageSize", _PAGE_SIZE)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= _MAX_PAGE_SIZE:
        raise invalid_params(field="pageSize", message=f"`pageSize` must be an integer from 1 to {_MAX_PAGE_SIZE}.")
    token = params.get("pageToken") or "0"
    if not isinstance(token, str) or not token.isdigit():
        raise invalid_params(
            field="pageToken", message="`pageToken` must be a token from an earlier ListTasks response."
        )
    return int(token), size


async def _list(call: RpcCall) -> dict[str, Any]:
    """`ListTasks` (1.0 only): this graph's tasks, newest first, optionally of one context or state."""
    params = call.envelope.params
    offset, size = _page_params(params)
    context_id = params.get("contextId")
    if context_id is not None and not isinstance(context_id, str):
        raise invalid_params(field="contextId", message="`contextId` must be a string.")
    status = params.get("status")
    state = None
    if status not in {None, "", "TASK_STATE_UNSPECIFIED"}:
        if not isinstance(status, str) or not status.startswith("TASK_STATE_"):
            raise invalid_params(field="status", message="`status` must be a TaskState such as TASK_STATE_COMPLETED.")
        state = status.removeprefix("TASK_STATE_").lower().replace("_", "-")
    history_length = params.get("historyLength")
    query = parse_task_query({"id": "-", "historyLength": history_length})
    include_artifacts = params.get("includeArtifacts", False)
    if not isinstance(include_artifacts, bool):
        raise invalid_params(field="includeArtifacts", message="`includeArtifacts` must be a boolean.")
    try:
        records, total = await call.store.page(
            call.scope, graph_id=call.target.graph_id, context_id=context_id, state=state, offset=offset, limit=size
        )
    except InkeepError as exc:
        raise internal_error(exc.detail) from exc
    wire = wire_for(call.envelope.version)
    tasks = []
    for record in records:
        live = call.tasks.live(call.scope, record.id)
        task = live.snapshot() if live is not None else record_to_task(record)
        task["history"] = task["history"][-query.history_length :] if query.history_length else []
        if not include_artifacts:
            task["artifacts"] = []
        tasks.append(wire.task(task))
    next_token = str(offset + size) if offset + size < total else ""
    return {"tasks": tasks, "nextPageToken": next_token, "pageSize": size, "totalSize": total}
