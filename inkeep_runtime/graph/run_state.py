"""The mutable state of one run, shared by the executor and the modules that serve it.

`GraphExecutor.stream` creates one `RunState` per run; the agents' turns fill in `answers`, transfers
move `active_agent_id`, and `graph/answers.py` stores what it holds when the run ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inkeep_runtime.agent.turn import TurnOutcome
from inkeep_runtime.graph.contract import PreparedRun
from inkeep_runtime.graph.definition import GraphDefinition
from inkeep_runtime.store.rows import Scope

__all__ = ["RunState"]


@dataclass(slots=True)
class RunState:
    """Mutable state of one run (what must be stored when it ends)."""

    prepared: PreparedRun
    graph: GraphDefinition
    scope: Scope
    deadline: float
    """`anyio.current_time()` value by which the run must end."""
    active_agent_id: str
    answers: list[tuple[str, TurnOutcome]] = field(default_factory=list)
    """(agent id, outcome) of every agent turn that answered the user in this run, in order."""
    transfers: int = 0
    completed: bool = False
    variables: Mapping[str, Any] | None = None
    """Template variables of the graph's context config (None: the graph has none)."""
