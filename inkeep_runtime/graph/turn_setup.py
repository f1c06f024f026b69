"""What one agent's turn runs with: its model and client, tools, limits, approvals and artifacts.

The model comes from the agent's model settings, else the graph's, else `Settings.default_model`
(the offline model when none is set); provider options merge graph first, agent second. The offline
model runs on the in-process offline client, every other model on the litellm client. The tool
catalog comes from `graph/tool_access.py`, extended with artifact tools when the graph has artifact
components; the approval gate is the run's view of the app's `ApprovalBroker` (none: tools that need
an approval are refused).
"""

from __future__ import annotations

from typing import Any

import anyio

from inkeep_runtime.agent.approvals import ApprovalBroker, ApprovalContext, RunApprovals
from inkeep_runtime.agent.artifacts import ArtifactTools
from inkeep_runtime.agent.components import StructuredOutput
from inkeep_runtime.agent.turn import TurnSetup
from inkeep_runtime.graph.definition import AgentDefinition, GraphDefinition
from inkeep_runtime.graph.run_state import RunState
from inkeep_runtime.graph.tool_access import ToolAccess
from inkeep_runtime.llm.client import LLMClient
from inkeep_runtime.llm.offline import OFFLINE_MODEL, is_offline_model
from inkeep_runtime.settings import Settings
from inkeep_runtime.store.artifacts import ArtifactStore

__all__ = ["TurnSetupBuilder"]


class TurnSetupBuilder:
    """Builds the `TurnSetup` of each agent turn of a run (one per executor)."""

    def __init__(
        self,
        *,
        llm: LLMClient,
        offline_llm: LLMClient,
        settings: Settings,
        tools: ToolAccess,
        artifacts: ArtifactStore,
        approvals: ApprovalBroker | None,
    ) -> None:
        self._llm = llm
        self._offline_llm = offline_llm
        self._settings = settings
        self._tools = tools
        self._artifacts = artifacts
        self._approvals = approvals
        self._tool_limiter = anyio.CapacityLimiter(settings.max_parallel_tools)

    def model_of(self, graph: GraphDefinition, agent: AgentDefinition) -> tuple[str, dict[str, Any]]:
        """The agent's model and its provider options."""
        model = agent.model_settings.get("model") or graph.model_settings.get("model") or self._settings.default_model
        options = {
            **(graph.model_settings.get("providerOptions") or {}),
            **(agent.model_settings.get("providerOptions") or {}),
        }
        return str(model or OFFLINE_MODEL), options

    def llm_for(self, model: str) -> LLMClient:
        """The client that runs `model` (the offline client for the offline model)."""
        return self._offline_llm if is_offline_model(model) else self._llm

    async def build(self, run: RunState, agent: AgentDefinition, *, is_delegated: bool) -> TurnSetup:
        """Everything `agent`'s next turn in `run` needs (a delegated agent cannot transfer)."""
        model, options = self.model_of(run.graph, agent)
        catalog = await self._tools.catalog(run.graph, agent, is_delegated=is_delegated)
        conversation_id, run_id = run.prepared.conversation_id, run.prepared.run_id
        artifacts = await ArtifactTools.for_turn(  # None unless the graph has artifact components
            self._artifacts, run.graph, agent, scope=run.scope, conversation_id=conversation_id, run_id=run_id
        )
        return TurnSetup(
            agent_id=agent.id,
            llm=self.llm_for(model),
            model=model,
            options=options,
            catalog=artifacts.extend(catalog) if artifacts is not None else catalog,
            step_limit=agent.step_limit or run.graph.step_limit or self._settings.max_steps,
            deadline=run.deadline,
            tool_limiter=self._tool_limiter,
            allow_transfer=not is_delegated,
            approvals=self._approval_gate(run),
            output=StructuredOutput.for_agent(agent),
            artifacts=artifacts,
        )

    def _approval_gate(self, run: RunState) -> RunApprovals | None:
        if self._approvals is None:
            return None
        prepared = run.prepared
        context = ApprovalContext(
            scope=run.scope,
            run_id=prepared.run_id,
            graph_id=run.graph.id,
            conversation_id=prepared.conversation_id,
            deadline=run.deadline,
        )
        return self._approvals.for_run(context)
