"""Human approval of tool calls: a turn pauses on `require_approval` tools until someone decides.

How one approval flows:

1. The turn announces its tool calls (`ToolCallStarted`), then `RunApprovals.gate` stores one pending
   `tool_approvals` row per call whose tool is `require_approval` and yields `ToolApprovalRequested`
   (the AI SDK's `tool-approval-request` part, or a `data-operation` on `/v1/chat/completions`).
2. The turn waits in one `await` (no cancel scope spans a `yield`) for every decision. Decisions arrive
   through `ApprovalBroker.decide` (the run API's `POST .../tool-approvals/{toolCallId}`): in this
   process they wake the waiting run at once; from another process (several runtimes on one
   PostgreSQL) the run sees them by polling its rows every `approval_poll_s`.
3. No decision before `expires_at` counts as `expired`, which is treated as a rejection. The expiry is
   `approval_timeout_s` after the request, capped by the run deadline so that a quarter of the time
   left (at most 30 s) remains for the agent to answer.
4. `ToolApprovalResolved` follows; approved calls run, rejected and expired ones return an
   `approval_rejected` tool error the model reads.

**Exactly once.** A decision is written with `UPDATE ... WHERE status = 'pending'` and carried out by
whoever wins `UPDATE ... SET resumed_by = ... WHERE resumed_by IS NULL`, so a late decision racing an
expiry, or two processes, never runs a call twice.

**When the waiting run is gone** (client disconnect, restart, crash). The row stays `pending` until it
expires, listed by `GET .../tool-approvals?status=pending` with `runWaiting: false`. Deciding it still
does what the decision says, because the person approving expects the call to happen: the approved
call runs then, detached from any stream, against the graph as it is now (a tool disabled meanwhile is
not run), and its outcome is appended to the conversation as an assistant message, so the next turn
of the conversation sees it. A rejection of an orphaned call just closes it. A run is known to be gone
by its lease: the waiting run renews `lease_until` every poll and releases it when it ends without a
decision; a crashed process stops renewing and the lease lapses within three polls (`3 * approval_poll_s`). A
decision that finds a live lease held by another process waits up to that long for the owner to take
it before running the call detached. Approvals past their expiry are marked `expired` at start-up and
whenever they are listed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import anyio

from inkeep_runtime.errors import Conflict, NotFound
from inkeep_runtime.events import RunEvent, ToolApprovalRequested, ToolApprovalResolved
from inkeep_runtime.graph.definition import GraphDefinition
from inkeep_runtime.graph.relations import DeniedTarget, McpTarget
from inkeep_runtime.ids import new_id
from inkeep_runtime.llm.client import ToolCallChunk
from inkeep_runtime.mcp import ToolResult
from inkeep_runtime.store.approvals import ApprovalRecord, ApprovalStore, NewApproval
from inkeep_runtime.store.conversations import ConversationStore, NewMessage
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope, iso_utc

__all__ = [
    "ApprovalBroker",
    "ApprovalContext",
    "Decision",
    "RunApprovals",
    "ToolHost",
    "denied_output",
    "needs_approval",
    "refuse_unapprovable",
]

logger = logging.getLogger(__name__)

Decision = Literal["approved", "rejected", "expired"]
_Outputs = dict[str, tuple[Any, bool, str | None]]

_LEASE_POLLS = 3
"""A lease outlives this many polls, so one slow poll does not make a live run look gone."""
_MAX_LEASE_WAIT_S = 60.0
"""Longest an approve request waits for another process's run to give up its approval."""
_ANSWER_SHARE = 0.25
_ANSWER_MAX_S = 30.0


_iso = iso_utc


def _later(seconds: float) -> str:
    return _iso(datetime.now(UTC) + timedelta(seconds=seconds))


def _seconds_until(iso: str) -> float:
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - datetime.now(UTC)).total_seconds()


def needs_approval(call: ToolCallChunk, target: Any) -> bool:
    """Whether `call` may run only after a human approved it."""
    return (
        isinstance(target, McpTarget)
        and call.arguments_error is None
        and target.binding.mode_of(target.tool_name) == "require_approval"
    )


def refuse_unapprovable(calls: Sequence[ToolCallChunk], targets: Sequence[Any], outputs: _Outputs) -> None:
    """Fail closed where no one can be asked (an executor without a broker): such calls do not run."""
    for call, target in zip(calls, targets, strict=True):
        if needs_approval(call, target):
            text = "Error (approval_rejected): this tool needs a human approval, which this runtime cannot ask for."
            outputs[call.id] = (text, True, "approval_rejected")


def denied_output(target: DeniedTarget) -> str:
    """What the model reads when it calls a tool it may not use."""
    return (
        f"Error (permission_denied): you are not allowed to use the tool '{target.tool_name}'; "
        "do not call it again and answer without it."
    )


class ToolHost(Protocol):
    """What detached approved calls need from the executor."""

    async def load_graph(self, scope: Scope, graph_id: str) -> GraphDefinition:
        """The runnable graph as it is now."""
        ...

    async def call_mcp(self, target: McpTarget, arguments: dict[str, Any]) -> ToolResult:
        """Call an MCP tool (failures come back as error results)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalContext:
    """The run a turn belongs to."""

    scope: Scope
    run_id: str
    graph_id: str
    conversation_id: str
    deadline: float
    """`anyio.current_time()` value by which the run must end."""


@dataclass(slots=True)
class _Group:
    """The approvals one waiting turn needs decided; `decide` in this process wakes it directly."""

    wake: anyio.Event = field(default_factory=anyio.Event)
    decisions: dict[str, tuple[Decision, str | None]] = field(default_factory=dict)


class ApprovalBroker:
    """Stores approvals, wakes the runs that wait for them, and carries out late decisions (one per app).

    Args:
        store: the database.
        timeout_s: how long an approval waits for a decision (`Settings.approval_timeout_s`).
        poll_s: how often a waiting run looks for decisions made by other processes and renews its lease.
    """

    def __init__(self, store: Store, *, timeout_s: float, poll_s: float = 1.0) -> None:
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.lease_s = poll_s * _LEASE_POLLS
        self.instance_id = new_id()
        """This process (owner of the approvals its runs wait for)."""
        self.host: ToolHost | None = None
        """The executor, for decisions that arrive after their run is gone (set by the app)."""
        self.rows = ApprovalStore(store)
        self._conversations = ConversationStore(store)
        self._waiting: dict[str, _Group] = {}

    def for_run(self, context: ApprovalContext) -> RunApprovals:
        """The gate a run's turns use."""
        return RunApprovals(self, context)

    def expires_in(self, deadline: float) -> float:
        """Seconds until a new approval expires: the timeout, capped by the run deadline (see module doc)."""
        remaining = max(0.0, deadline - anyio.current_time())
        return max(0.0, min(self.timeout_s, remaining - min(_ANSWER_MAX_S, remaining * _ANSWER_SHARE)))

    async def open(self, context: ApprovalContext, approvals: Sequence[NewApproval]) -> _Group:
        """Store pending approvals and register the waiting run."""
        await self.rows.create(context.scope, approvals)
        group = _Group()
        for approval in approvals:
            self._waiting[approval.id] = group
        return group

    async def wait(
        self, scope: Scope, group: _Group, ids: list[str], until: float
    ) -> dict[str, tuple[Decision, str | None]]:
        """Every decision (or `expired` at `until`, an `anyio.current_time()` value); see the module doc."""
        open_ids = list(ids)
        try:
            while open_ids:
                now = anyio.current_time()
                if now >= until:
                    break
                with anyio.move_on_after(min(self.poll_s, until - now)):
                    await group.wake.wait()
                group.wake = anyio.Event()
                open_ids = [i for i in open_ids if i not in group.decisions]
                if open_ids:
                    await self._poll(scope, group, open_ids)
                    open_ids = [i for i in open_ids if i not in group.decisions]
            for approval_id in open_ids:
                group.decisions[approval_id] = await self._expire(scope, approval_id)
        finally:
            for approval_id in ids:
                self._waiting.pop(approval_id, None)
            undecided = [i for i in ids if i not in group.decisions]
            if undecided:  # the run is going away (cancelled): let a later decision run the call detached
                with anyio.move_on_after(2, shield=True):
                    await self.rows.renew(scope, undecided, _later(0))
        return group.decisions

    async def _poll(self, scope: Scope, group: _Group, open_ids: list[str]) -> None:
        """Take decisions made by other processes; renew the lease on the rest."""
        for approval_id in open_ids:
            record = await self.rows.get(scope, approval_id)
            if record is not None and record.status != "pending":
                group.decisions[approval_id] = (record.status, record.reason)
        still_open = [i for i in open_ids if i not in group.decisions]
        if still_open:
            await self.rows.renew(scope, still_open, _later(self.lease_s))

    async def _expire(self, scope: Scope, approval_id: str) -> tuple[Decision, str | None]:
        reason = "No decision arrived before the approval expired."
        if await self.rows.decide(scope, approval_id, "expired", reason):
            return "expired", reason
        record = await self.rows.get(scope, approval_id)  # decided at the last moment: that decision stands
        assert record is not None
        return record.status, record.reason  # type: ignore[return-value]

    async def decide(
        self, scope: Scope, key: str, *, is_approved: bool, reason: str | None, graph_id: str | None = None
    ) -> ApprovalRecord:
        """Record a human decision on the approval named by `key` (approval id or tool-call id).

        Args:
            graph_id: when given, the approval must belong to this graph (the caller's API key).

        Raises:
            NotFound: no such approval (in this graph).
            Conflict: it was decided or expired already.
        """
        record = await self.rows.find(scope, key)
        if record is None or (graph_id is not None and record.graph_id != graph_id):
            msg = f"There is no tool approval '{key}' in project '{scope.project_id}'."
            raise NotFound(msg)
        if record.status == "pending" and _seconds_until(record.expires_at) <= 0:
            await self._expire(scope, record.id)
            record = await self._reload(record)
        status: Decision = "approved" if is_approved else "rejected"
        if record.status != "pending" or not await self.rows.decide(scope, record.id, status, reason):
            current = await self._reload(record)
            msg = f"Tool approval '{key}' was already decided: {current.status}."
            raise Conflict(msg, approvalStatus=current.status)
        group = self._waiting.get(record.id)
        if group is not None:  # the run waits in this process: it carries the decision out
            group.decisions[record.id] = (status, reason)
            group.wake.set()
            return replace(await self._reload(record), resumed_by="run" if is_approved else None)
        if is_approved:
            await self._run_detached(await self._reload(record))
        return await self._reload(record)

    async def _reload(self, record: ApprovalRecord) -> ApprovalRecord:
        current = await self.rows.get(record.scope, record.id)
        assert current is not None  # approvals are deleted only with their project
        return current

    async def _run_detached(self, record: ApprovalRecord) -> None:
        """Carry out an approval whose run is gone, once its lease has lapsed (see the module doc)."""
        # The owner's lease may be longer than ours (another process, other settings): wait for the one it holds.
        lease_left = min(max(self.lease_s, _seconds_until(record.lease_until)), _MAX_LEASE_WAIT_S)
        give_up = anyio.current_time() + lease_left + 2 * self.poll_s
        while not await self.rows.claim(record.scope, record.id, "detached"):
            current = await self._reload(record)
            if current.resumed_by is not None or anyio.current_time() >= give_up:
                return  # the waiting run took it (or holds a live lease and will)
            await anyio.sleep(min(self.poll_s, max(0.01, _seconds_until(current.lease_until))))
        text = await self._call_detached(record)
        note = NewMessage(
            role="assistant",
            content=f"[The approved call of tool '{record.tool_name}' ran after the answer was interrupted.] {text}",
            agent_id=record.agent_id,
            message_type="approved-tool-result",
            run_id=record.run_id,
        )
        try:
            await self._conversations.append(record.scope, record.conversation_id, [note])
        except Exception:  # the conversation may be gone; the approval itself is recorded
            logger.warning("could not add the result of approval %s to its conversation", record.id, exc_info=True)

    async def _call_detached(self, record: ApprovalRecord) -> str:
        target = await self._target(record)
        if target is None:
            return f"Not run: tool '{record.tool_name}' is no longer available to agent '{record.agent_id}'."
        assert self.host is not None
        result = await self.host.call_mcp(target, dict(record.arguments))
        output = result.content_text if result.structured is None or result.content_text else result.structured
        text = output if isinstance(output, str) else json.dumps(output, default=str)
        return f"Error: {text}" if result.is_error else f"Result: {text}"

    async def _target(self, record: ApprovalRecord) -> McpTarget | None:
        if self.host is None:
            return None
        try:
            graph = await self.host.load_graph(record.scope, record.graph_id)
        except Exception:  # the graph was deleted or cannot load: nothing to run
            logger.warning("approval %s: graph '%s' cannot load", record.id, record.graph_id, exc_info=True)
            return None
        agent = graph.agents.get(record.agent_id)
        for binding in agent.tools if agent is not None else ():
            if binding.tool_id != record.tool_id or binding.is_disabled or not binding.allows(record.tool_name):
                continue
            if binding.mode_of(record.tool_name) != "disabled":
                return McpTarget(binding, record.tool_name)
        return None


class RunApprovals:
    """The approval gate of one run (`TurnSetup.approvals`)."""

    def __init__(self, broker: ApprovalBroker, context: ApprovalContext) -> None:
        self._broker = broker
        self._context = context

    async def gate(
        self, agent_id: str, calls: Sequence[ToolCallChunk], targets: Sequence[Any], outputs: _Outputs
    ) -> AsyncIterator[RunEvent]:
        """Ask for and await the decisions this step's calls need; fill `outputs` for calls that must not run."""
        asking = [(call, target) for call, target in zip(calls, targets, strict=True) if needs_approval(call, target)]
        if not asking:
            return
        broker, context = self._broker, self._context
        expires_in = broker.expires_in(context.deadline)
        until = anyio.current_time() + expires_in
        expires_at = _later(expires_in)
        approvals = [
            NewApproval(
                id=new_id(),
                tool_call_id=call.id,
                run_id=context.run_id,
                graph_id=context.graph_id,
                conversation_id=context.conversation_id,
                agent_id=agent_id,
                tool_id=target.binding.tool_id,
                tool_name=target.tool_name,
                arguments=dict(call.arguments),
                expires_at=expires_at,
                owner_id=broker.instance_id,
                lease_until=_later(broker.lease_s),
            )
            for call, target in asking
        ]
        group = await broker.open(context, approvals)
        for approval, (call, target) in zip(approvals, asking, strict=True):
            yield ToolApprovalRequested(
                agent_id=agent_id,
                call_id=call.id,
                approval_id=approval.id,
                tool_name=call.name,
                tool_id=target.binding.tool_id,
                server_tool_name=target.tool_name,
                arguments=dict(call.arguments),
                run_id=context.run_id,
                expires_at=expires_at,
            )
        decisions = await broker.wait(context.scope, group, [a.id for a in approvals], until)
        for approval, (call, _target) in zip(approvals, asking, strict=True):
            decision, reason = decisions[approval.id]
            yield ToolApprovalResolved(
                agent_id=agent_id,
                call_id=call.id,
                approval_id=approval.id,
                tool_name=call.name,
                decision=decision,
                reason=reason,
            )
            if decision != "approved":
                because = f" Reason: {reason}" if reason and decision == "rejected" else ""
                text = (
                    f"Error (approval_rejected): the call was {decision} by the approver, so it did not run.{because}"
                )
                outputs[call.id] = (text, True, "approval_rejected")
            elif not await broker.rows.claim(context.scope, approval.id, "run"):
                late = "The call was approved after this run was presumed gone; it ran separately."
                outputs[call.id] = (late, False, None)
