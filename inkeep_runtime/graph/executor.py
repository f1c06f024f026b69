"""GraphExecutor: runs one user turn through an agent graph.

How a turn flows:

1. `prepare` loads the runnable graph, resolves the conversation (new, or continued in this graph)
   and its active agent, and commits the user's message before anything else happens.
2. `stream` runs the active agent's turn (`agent/turn.py`). When the model calls `transfer_to_X`,
   the current agent stops and X continues the same turn in the same stream, with a transfer note;
   X stays active for later turns. When it calls `delegate_to_X`, X runs to completion out of sight
   (it may use its own tools and delegations) and its answer becomes the tool result.
3. Guards end the run with `RunFailed`, never a hang: `stopWhen.transferCountIs` (transfers per
   run), `stepCountIs` (model calls per agent turn), delegation depth and cycles, and a run deadline.
4. Whatever happens (completion, failure, client disconnect), the answer so far is stored in a
   `finally` under a short shielded timeout, marked partial unless the run completed.

Everything runs in-process: no HTTP calls to ourselves and no global stream registry. Only external
agents are reached over A2A (`graph/external.py`).

Where the parts live: this module drives the run (prepare, the agent loop with transfers and
delegations, guards, context resolution, status updates). A run's mutable state is a `RunState`
(`graph/run_state.py`). Each agent turn gets its model, client, tool catalog, limits, approval gate
and artifact tools from `graph/turn_setup.py`; MCP tool lists and calls go through
`graph/tool_access.py`; what each agent reads comes from `graph/turn_messages.py`; the answers are
stored at the end by `graph/answers.py`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

import anyio
import httpx

from inkeep_runtime.a2a.client import A2AClient
from inkeep_runtime.agent.approvals import ApprovalBroker
from inkeep_runtime.agent.prompt import transfer_note
from inkeep_runtime.agent.status import StatusSummarizer, with_status_updates
from inkeep_runtime.agent.status_config import summarizer_model
from inkeep_runtime.agent.turn import TurnOutcome, run_turn
from inkeep_runtime.context import ContextService
from inkeep_runtime.credentials import CredentialResolver
from inkeep_runtime.errors import Conflict, InkeepError, NotFound, TurnLimitExceeded
from inkeep_runtime.events import (
    AgentTransferred,
    ContextFetched,
    Problem,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    Usage,
)
from inkeep_runtime.graph.answers import save_answers
from inkeep_runtime.graph.contract import PreparedRun, RunTarget
from inkeep_runtime.graph.definition import GraphDefinition
from inkeep_runtime.graph.external import ExternalAgents, ExternalHandoff
from inkeep_runtime.graph.loader import GraphLoader
from inkeep_runtime.graph.relations import DelegateTarget, McpTarget
from inkeep_runtime.graph.run_state import RunState
from inkeep_runtime.graph.tool_access import ToolAccess
from inkeep_runtime.graph.turn_messages import agent_messages, delegated_messages
from inkeep_runtime.graph.turn_setup import TurnSetupBuilder
from inkeep_runtime.ids import new_id
from inkeep_runtime.llm.client import LLMClient
from inkeep_runtime.llm.messages import Message
from inkeep_runtime.mcp import McpPool, ToolResult
from inkeep_runtime.protocols.requests import RunRequest
from inkeep_runtime.settings import Settings
from inkeep_runtime.store.artifacts import ArtifactStore
from inkeep_runtime.store.conversations import ConversationStore, NewMessage
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope

__all__ = ["GraphExecutor"]

logger = logging.getLogger(__name__)


class GraphExecutor:
    """Runs chat turns against stored agent graphs (implements `graph.contract.Runner`)."""

    def __init__(
        self,
        *,
        store: Store,
        llm: LLMClient,
        offline_llm: LLMClient,
        mcp: McpPool,
        settings: Settings,
        version_of: Callable[[str], int],
        credentials: CredentialResolver | None = None,
        a2a: A2AClient | None = None,
        http: httpx.AsyncClient | None = None,
        approvals: ApprovalBroker | None = None,
    ) -> None:
        self._settings = settings
        self._loader = GraphLoader(
            store, version_of=version_of, tool_timeout_s=settings.tool_timeout_s, credentials=credentials
        )
        self._conversations = ConversationStore(store)
        self._context = ContextService(
            store,
            http=http,
            credentials=credentials,
            fetch_timeout_s=settings.context_fetch_timeout_s,
            max_response_bytes=settings.context_max_response_bytes,
        )
        self._tools = ToolAccess(mcp, tool_timeout_s=settings.tool_timeout_s)
        self._setups = TurnSetupBuilder(
            llm=llm,
            offline_llm=offline_llm,
            settings=settings,
            tools=self._tools,
            artifacts=ArtifactStore(store),
            approvals=approvals,
        )
        self._external = ExternalAgents(a2a or A2AClient(timeout_s=settings.tool_timeout_s))

    async def prepare(self, target: RunTarget, request: RunRequest) -> PreparedRun:
        """Resolve graph and conversation and commit the user's message (see `Runner.prepare`)."""
        scope = Scope(target.tenant_id, target.project_id)
        graph = await self._loader.load(scope, target.graph_id)
        run_id = new_id()
        user = NewMessage(role="user", content=request.user_text, run_id=run_id)
        conversation = (
            await self._conversations.get(scope, request.conversation_id) if request.conversation_id else None
        )
        if conversation is not None and conversation.graph_id != graph.id:
            msg = f"Conversation '{conversation.id}' does not exist in graph '{graph.id}'."
            raise NotFound(msg)
        if graph.context is not None:  # validated (InvalidRequest) before anything is stored
            given, known = request.request_context, conversation.id if conversation else None
            context = await self._context.request_context(
                scope, graph.context, given, graph_id=graph.id, conversation_id=known
            )
            request = replace(request, request_context=context)
        if conversation is None:
            conversation_id = request.conversation_id or new_id()
            earlier = [
                NewMessage(role=m.role, content=m.text, agent_id=None if m.role == "user" else graph.default_agent_id)
                for m in request.history
                if m.role in {"user", "assistant"} and m.text
            ]
            try:
                await self._conversations.create(
                    scope,
                    conversation_id=conversation_id,
                    graph_id=graph.id,
                    agent_id=graph.default_agent_id,
                    messages=[*earlier, user],
                )
            except Conflict:  # created by a concurrent request with the same client-chosen id
                await self._conversations.append(scope, conversation_id, [user])
            agent_id, is_new = graph.default_agent_id, True
        else:
            conversation_id = conversation.id
            await self._conversations.append(scope, conversation_id, [user])
            agent_id = (
                conversation.active_agent_id if conversation.active_agent_id in graph.agents else graph.default_agent_id
            )
            is_new = False
        return PreparedRun(
            target=target,
            request=request,
            conversation_id=conversation_id,
            run_id=run_id,
            agent_id=agent_id,
            is_new_conversation=is_new,
        )

    async def stream(self, prepared: PreparedRun) -> AsyncIterator[RunEvent]:
        """Run the turn, yielding events as they happen (see `Runner.stream`)."""
        scope = Scope(prepared.target.tenant_id, prepared.target.project_id)
        graph = await self._loader.load(scope, prepared.target.graph_id)
        run = RunState(
            prepared=prepared,
            graph=graph,
            scope=scope,
            deadline=anyio.current_time() + self._settings.run_deadline_s,
            active_agent_id=prepared.agent_id,
        )
        model, _ = self._setups.model_of(graph, graph.agents[prepared.agent_id])
        yield RunStarted(
            run_id=prepared.run_id,
            conversation_id=prepared.conversation_id,
            graph_id=graph.id,
            agent_id=prepared.agent_id,
            model=model,
        )
        try:
            for context_event in await self._resolve_context(run):
                yield context_event
            # Closed here, in this task: with status updates the run's events come from a task group.
            async with aclosing(self._with_status_updates(run, self._run_agents(run))) as events:
                async for event in events:
                    yield event
            yield Usage(
                input_tokens=sum(o.input_tokens for _, o in run.answers),
                output_tokens=sum(o.output_tokens for _, o in run.answers),
            )
            run.completed = True
            yield RunCompleted(finish_reason="stop")
        except InkeepError as exc:
            logger.info("run %s failed: %s", prepared.run_id, exc.detail)
            yield RunFailed(problem=Problem(code=exc.code, title=exc.title, status=exc.status, detail=exc.detail))
        except Exception:
            logger.exception("run %s failed unexpectedly", prepared.run_id)
            detail = f"The run failed unexpectedly; run id {prepared.run_id} identifies it in the server log."
            yield RunFailed(
                problem=Problem(code="internal_server_error", title="Internal Server Error", status=500, detail=detail)
            )
        finally:
            with anyio.move_on_after(2, shield=True):
                await save_answers(self._conversations, run)

    def _with_status_updates(
        self, run: RunState, events: AsyncGenerator[RunEvent, None]
    ) -> AsyncGenerator[RunEvent, None]:
        """The run's events, with progress summaries merged in when the graph has `statusUpdates`."""
        config = run.graph.status_updates
        if config is None or not run.prepared.request.shows_status_updates:
            return events
        model, options = summarizer_model(run.graph.model_settings, config, self._settings.default_model)
        llm = self._setups.llm_for(model)
        question = run.prepared.request.user_text
        summarizer = StatusSummarizer(llm=llm, model=model, options=options, config=config, question=question)
        return with_status_updates(events, summarizer)

    async def _resolve_context(self, run: RunState) -> tuple[ContextFetched, ...]:
        """Resolve the context variables of this turn (nothing to do without a context config)."""
        resolved = await self._context.resolve(
            run.scope,
            run.graph.context,
            conversation_id=run.prepared.conversation_id,
            request_context=run.prepared.request.request_context,
        )
        if resolved is None:
            return ()
        run.variables = resolved.variables
        return resolved.events

    async def _run_agents(self, run: RunState) -> AsyncGenerator[RunEvent, None]:
        graph = run.graph
        limit = graph.transfer_limit or self._settings.max_transfers
        note: Message | None = None
        while True:
            agent = graph.agents[run.active_agent_id]
            outcome = TurnOutcome()
            run.answers.append((agent.id, outcome))
            messages = await agent_messages(self._conversations, run, agent, note, renderer=self._context.renderer)
            setup = await self._setups.build(run, agent, is_delegated=False)
            async for event in run_turn(setup, messages, _Tools(self, run, [agent.id]), outcome):
                yield event
            if outcome.transfer is None:
                return
            target = outcome.transfer
            run.transfers += 1
            if run.transfers > limit:
                msg = f"The run exceeded its transfer limit (stopWhen.transferCountIs={limit})."
                raise TurnLimitExceeded(msg, limit="transferCountIs")
            yield AgentTransferred(from_agent_id=agent.id, to_agent_id=target.agent_id, reason=outcome.transfer_reason)
            if target.is_external:  # its answer ends the turn; on failure the same agent runs again (graph/external.py)
                handoff = ExternalHandoff(agent_id=target.agent_id)
                run.answers.append((target.agent_id, handoff.outcome))
                async for event in self._external.transfer(graph, run.prepared, agent.id, outcome, handoff):
                    yield event
                if handoff.failure_note is None:
                    return
                note = handoff.failure_note
                continue
            note = transfer_note(graph, agent.id, outcome.transfer_reason)
            run.active_agent_id = target.agent_id

    async def load_graph(self, scope: Scope, graph_id: str) -> GraphDefinition:
        """The runnable graph (cached), for work outside a run such as late-approved tool calls."""
        return await self._loader.load(scope, graph_id)

    async def delegate(self, run: RunState, stack: list[str], target: DelegateTarget, message: str) -> tuple[str, bool]:
        """Run `target` on `message` out of sight; return its answer (see `ToolRunner.delegate`)."""
        if target.is_external:
            hops = run.prepared.request.a2a_hops
            return await self._external.delegate(
                run.graph, run.prepared.conversation_id, stack[-1], target.agent_id, message, hops=hops
            )
        if target.agent_id in stack:
            path = " → ".join([*stack, target.agent_id])
            msg = f"Delegation cycle refused: {path} (an agent already on the delegation stack cannot be delegated to)."
            raise TurnLimitExceeded(msg, limit="delegationCycle")
        depth = len(stack)  # the first agent is on the stack; each delegation adds one
        if depth > self._settings.max_delegation_depth:
            msg = f"Delegation depth limit reached ({self._settings.max_delegation_depth}): {' → '.join(stack)}."
            raise TurnLimitExceeded(msg, limit="delegationDepth")
        agent = run.graph.agents[target.agent_id]
        outcome = TurnOutcome()
        messages = delegated_messages(run, agent, message, renderer=self._context.renderer)
        setup = await self._setups.build(run, agent, is_delegated=True)
        observe = run.prepared.observer
        async for event in run_turn(setup, messages, _Tools(self, run, [*stack, agent.id]), outcome):
            if observe is not None:  # a delegated agent works out of sight; only observers (query log) see it
                observe(event)
        return (outcome.text or "(no answer)"), False

    async def call_mcp(self, target: McpTarget, arguments: dict[str, Any]) -> ToolResult:
        """Call an MCP tool; failures and timeouts come back as error results."""
        return await self._tools.call_mcp(target, arguments)


@dataclass(slots=True)
class _Tools:
    """The `ToolRunner` of one agent within a run (knows the delegation stack)."""

    executor: GraphExecutor
    run: RunState
    stack: list[str]

    async def call_mcp(self, target: McpTarget, arguments: dict[str, Any]) -> ToolResult:
        return await self.executor.call_mcp(target, arguments)

    async def delegate(self, target: DelegateTarget, message: str) -> tuple[str, bool]:
        return await self.executor.delegate(self.run, self.stack, target, message)
