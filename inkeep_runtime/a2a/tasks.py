"""Running A2A tasks: owned by the app, not by the request that started them.

An A2A task lives on its own (spec §3.1): the client that sent `message/stream` may go away, come back
with `tasks/resubscribe`, or ask `tasks/get` later. So a task's run is started in the app's task group
(`TaskManager.running()`, entered by the app's lifespan), never in the request's task, and its events
are fanned out to any number of subscribers:

* Each subscriber gets its own memory stream of `Update`s. A subscriber that falls `_BUFFER` updates
  behind is dropped (its stream closes), so a stalled reader cannot stall the run or grow memory.
* Subscribing returns the task as it is now and the stream of what follows, with no await in between,
  so no update can fall between the snapshot and the subscription.
* `cancel()` cancels the run's cancel scope. The cancellation travels through the runner's stream into
  the model call and tool calls exactly as a chat client's disconnect does, and the executor stores
  the partial answer. The task ends `canceled`, keeping the answer produced so far as its artifact.
* `tasks/cancel` in another process (a shared PostgreSQL) sets `cancel_requested_at`; the process
  running the task polls it every `cancel_poll_s`.
* A run is bounded by `Settings.run_deadline_s` (the executor's own guard) plus a grace period
  (ours); app shutdown cancels running tasks, which end `failed`.

The database holds each task from its creation (`submitted`, with the user message) and receives its
end (state, status message, answer artifact) before the task leaves the in-memory registry, so
`tasks/get` and blocking sends always see a stored result once the task is done.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from inkeep_runtime.a2a.encoder import TaskEncoder, now
from inkeep_runtime.a2a.wire import TERMINAL_STATES, StatusUpdate, Update
from inkeep_runtime.events import Problem
from inkeep_runtime.graph.contract import PreparedRun, Runner
from inkeep_runtime.store.a2a_tasks import A2ATaskRecord, A2ATaskStore
from inkeep_runtime.store.rows import Scope

__all__ = ["LiveTask", "TaskManager", "new_record", "record_to_task"]

logger = logging.getLogger(__name__)

_BUFFER: Final = 4096
"""Updates a subscriber may fall behind before it is dropped."""
_DEADLINE_GRACE_S: Final = 10.0
"""Beyond the executor's own deadline: our backstop if a run ignores it."""
_SAVE_TIMEOUT_S: Final = 5.0

StopReason = Literal["client", "shutdown", "deadline"]


def record_to_task(record: A2ATaskRecord, *, history_length: int | None = None) -> dict[str, Any]:
    """A stored task in neutral form."""
    status: dict[str, Any] = {"state": record.state, "timestamp": record.updated_at}
    if record.status_message is not None:
        status["message"] = record.status_message
    task: dict[str, Any] = {
        "id": record.id,
        "contextId": record.context_id,
        "status": status,
        "artifacts": record.artifacts,
        "history": _last(record.history, history_length),
    }
    if record.metadata:
        task["metadata"] = record.metadata
    return task


def _last(history: list[dict[str, Any]], count: int | None) -> list[dict[str, Any]]:
    if count is None:
        return list(history)
    return list(history[-count:]) if count else []


class LiveTask:
    """A task running in this process: its current state and its subscribers."""

    def __init__(self, *, scope: Scope, record: A2ATaskRecord) -> None:
        self.scope = scope
        self.id = record.id
        self.graph_id = record.graph_id
        self.context_id = record.context_id
        self.state = record.state
        self.status_message: dict[str, Any] | None = None
        self.timestamp = record.updated_at
        self.history = list(record.history)
        self.metadata: dict[str, Any] | None = None
        self.encoder = TaskEncoder(task_id=record.id, context_id=record.context_id)
        self.cancel_scope = anyio.CancelScope()
        self.stop_reason: StopReason | None = None
        self.done = anyio.Event()
        """Set once the end is stored (the task then leaves the registry)."""
        self._subscribers: list[MemoryObjectSendStream[Update]] = []

    @property
    def is_terminal(self) -> bool:
        """Whether the task reached an end state (maybe not stored yet)."""
        return self.state in TERMINAL_STATES

    def snapshot(self, history_length: int | None = None) -> dict[str, Any]:
        """The task as it is now, in neutral form."""
        status: dict[str, Any] = {"state": self.state, "timestamp": self.timestamp}
        if self.status_message is not None:
            status["message"] = self.status_message
        task: dict[str, Any] = {
            "id": self.id,
            "contextId": self.context_id,
            "status": status,
            "artifacts": self.encoder.artifacts(),
            "history": _last(self.history, history_length),
        }
        if self.metadata:
            task["metadata"] = self.metadata
        return task

    def subscribe(self) -> tuple[dict[str, Any], MemoryObjectReceiveStream[Update]]:
        """The task now, and a stream of every later update (closed after the final one)."""
        send, receive = anyio.create_memory_object_stream[Update](_BUFFER)
        if self.is_terminal:
            send.close()
        else:
            self._subscribers.append(send)
        return self.snapshot(), receive

    def publish(self, updates: list[Update]) -> None:
        """Apply `updates` to the task and hand them to every subscriber."""
        for update in updates:
            if self.is_terminal:
                return  # the first end wins (a cancel racing the run's own end)
            if isinstance(update, StatusUpdate):
                self.state, self.timestamp, self.status_message = update.state, update.timestamp, update.message
                if update.metadata and update.is_final:
                    self.metadata = {**(self.metadata or {}), **update.metadata}
            for subscriber in list(self._subscribers):
                try:
                    subscriber.send_nowait(update)
                except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    logger.info("dropping a subscriber of A2A task %s (gone or %d updates behind)", self.id, _BUFFER)
                    subscriber.close()
                    self._subscribers.remove(subscriber)

    def close_subscribers(self) -> None:
        """End every subscriber's stream."""
        for subscriber in self._subscribers:
            subscriber.close()
        self._subscribers.clear()

    def stop(self, reason: StopReason) -> None:
        """Cancel the run (the first reason is kept)."""
        self.stop_reason = self.stop_reason or reason
        self.cancel_scope.cancel()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Start:
    scope: Scope
    prepared: PreparedRun
    runner: Runner


class TaskManager:
    """Starts, tracks and cancels the A2A tasks of this process."""

    cancel_poll_s: float = 1.0
    """How often a running task checks whether another process asked to cancel it."""

    def __init__(self, store: A2ATaskStore, *, run_deadline_s: float) -> None:
        self._store = store
        self._run_deadline_s = run_deadline_s
        self._live: dict[tuple[str, str], LiveTask] = {}
        self._group: TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TaskManager]:
        """Own the task group that runs tasks; on exit, cancel what still runs and store its end."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield self
            finally:
                for live in list(self._live.values()):
                    live.stop("shutdown")
                self._group = None

    def live(self, scope: Scope, task_id: str) -> LiveTask | None:
        """The task if it runs in this process."""
        return self._live.get((scope.key, task_id))

    async def start(self, scope: Scope, record: A2ATaskRecord, prepared: PreparedRun, runner: Runner) -> LiveTask:
        """Store a new task and start its run in the app's task group.

        Raises:
            RuntimeError: the manager is not running (the app's lifespan did not start).
        """
        if self._group is None:
            msg = "A2A tasks cannot start: the app's lifespan is not running."
            raise RuntimeError(msg)
        await self._store.create(scope, record)
        live = LiveTask(scope=scope, record=record)
        self._live[(scope.key, live.id)] = live
        self._group.start_soon(self._drive, live, _Start(scope=scope, prepared=prepared, runner=runner))
        return live

    def is_stale(self, record: A2ATaskRecord) -> bool:
        """Whether a stored unfinished task that no process here runs is past any possible end."""
        created = datetime.fromisoformat(record.created_at.replace("Z", "+00:00"))
        limit = timedelta(seconds=self._run_deadline_s + _DEADLINE_GRACE_S * 3)
        return record.state not in TERMINAL_STATES and datetime.now(UTC) - created > limit

    async def _drive(self, live: LiveTask, start: _Start) -> None:
        try:
            with live.cancel_scope, anyio.move_on_after(self._run_deadline_s + _DEADLINE_GRACE_S) as deadline:
                async with anyio.create_task_group() as watchers:
                    watchers.start_soon(self._watch_cancel, live)
                    await self._consume(live, start)
                    watchers.cancel_scope.cancel()
            if deadline.cancelled_caught:
                live.stop_reason = live.stop_reason or "deadline"
        except Exception:
            logger.exception("A2A task %s failed unexpectedly", live.id)
            detail = f"The task failed unexpectedly; task id {live.id} identifies it in the server log."
            problem = Problem(code="internal_server_error", title="Internal Server Error", status=500, detail=detail)
            live.publish([live.encoder.failed(problem)])
        finally:
            with anyio.CancelScope(shield=True):
                await self._end(live)

    async def _consume(self, live: LiveTask, start: _Start) -> None:
        async with aclosing(start.runner.stream(start.prepared)) as events:  # type: ignore[type-var]
            async for event in events:
                updates = live.encoder.encode(event)
                if not updates:
                    continue
                was_submitted = live.state == "submitted"
                live.publish(updates)
                if was_submitted and live.state == "working":
                    await self._store_working(live)

    async def _store_working(self, live: LiveTask) -> None:
        """Let other processes see that the task runs (best effort: the run does not depend on it)."""
        try:
            await self._store.set_state(live.scope, live.id, "working")
        except Exception:
            logger.warning("could not store that A2A task %s is working", live.id, exc_info=True)

    async def _watch_cancel(self, live: LiveTask) -> None:
        while True:
            await anyio.sleep(self.cancel_poll_s)
            try:
                if await self._store.is_cancel_requested(live.scope, live.id):
                    live.stop("client")
                    return
            except Exception:  # a busy database must not end the task; try again next time
                logger.warning("could not check A2A task %s for cancellation", live.id, exc_info=True)

    async def _end(self, live: LiveTask) -> None:
        """Give the task its end state if the run did not, store it, and release the subscribers."""
        if not live.is_terminal:
            reason = live.stop_reason
            if reason == "client":
                live.publish(
                    [live.encoder.status("canceled", message=live.encoder.agent_text("The task was canceled."))]
                )
            else:
                detail = {
                    "shutdown": "The server shut down before the task finished.",
                    "deadline": f"The task exceeded its run deadline of {self._run_deadline_s:g} s.",
                    None: "The run ended without a result.",
                }[reason]
                code = "run_deadline_exceeded" if reason == "deadline" else "run_interrupted"
                status = 504 if reason == "deadline" else 503
                problem = Problem(code=code, title="Run Interrupted", status=status, detail=detail)
                live.publish([live.encoder.failed(problem)])
        try:
            with anyio.move_on_after(_SAVE_TIMEOUT_S):
                await self._store.finish(
                    live.scope,
                    live.id,
                    state=live.state,
                    status_message=live.status_message,
                    artifacts=live.encoder.artifacts(),
                    metadata=live.metadata,
                )
        except Exception:
            logger.exception("could not store the end of A2A task %s", live.id)
        finally:
            live.close_subscribers()
            self._live.pop((live.scope.key, live.id), None)
            live.done.set()


def new_record(
    *, task_id: str, graph_id: str, agent_id: str | None, prepared: PreparedRun, message: dict[str, Any]
) -> A2ATaskRecord:
    """The stored form of a task that was just submitted."""
    stamp = now()
    return A2ATaskRecord(
        id=task_id,
        graph_id=graph_id,
        agent_id=agent_id,
        context_id=prepared.conversation_id,
        run_id=prepared.run_id,
        state="submitted",
        status_message=None,
        history=[{**message, "taskId": task_id, "contextId": prepared.conversation_id}],
        artifacts=[],
        metadata=None,
        cancel_requested_at=None,
        created_at=stamp,
        updated_at=stamp,
    )
