"""Artifacts: an agent saves tool results as artifacts, clients see their summary, the model reads them back.

An artifact component (`summaryProps`, `fullProps`: two JSON Schemas) describes a kind of artifact. An
agent with artifact components gets a `save_artifact` tool; every agent of a graph where any agent has
artifact components gets `get_reference_artifact` (inkeep-behaviour.md §6.2). Both run in-process.

`save_artifact({toolCallId, type, name, description?, summary, full?})`:

* `toolCallId` must name a tool call of this agent's turn that already returned without error (MCP
  tools and delegations count), so an artifact always points at a real result;
* `summary` must satisfy the component's `summaryProps` and `full` its `fullProps` (jsonschema, draft
  2020-12); `full` may be left out when the tool result itself is a JSON object that satisfies
  `fullProps`, which saves the model re-typing a large result;
* the artifact is stored at once (`store/artifacts.py`, per conversation, surviving restarts), and the
  client is shown `ArtifactSaved` (`data-artifact` with `artifactSummary`); the full data never
  streams. Mistakes come back to the model as tool errors naming the field, so it can correct them.

`get_reference_artifact({artifactId, toolCallId?})` returns the full data of an artifact of the same
conversation. Its description lists the conversation's newest 12 artifacts (id, type, name,
description, summary), so after a restart the model still knows what it can read.

Deliberate divergences from Inkeep: a tool instead of inline `<artifact:create/>` annotations (they are
invisible to structured output and need fragile stream parsing), the model writes `name` and
`description` itself instead of a background summariser call, and summary/full are two schemas as in
the API document rather than `inPreview` flags.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

from jsonschema import Draft202012Validator

from inkeep_runtime.events import ArtifactSaved, DelegationReturned, RunEvent, ToolCallFinished
from inkeep_runtime.graph.definition import AgentDefinition, ArtifactComponentDefinition, GraphDefinition
from inkeep_runtime.graph.relations import FeatureTarget, ToolCatalog
from inkeep_runtime.ids import new_id
from inkeep_runtime.llm.messages import ToolSpec
from inkeep_runtime.store.artifacts import ArtifactRecord, ArtifactStore, NewArtifact
from inkeep_runtime.store.rows import Scope

__all__ = ["LISTED_ARTIFACTS", "READ_TOOL", "SAVE_TOOL", "ArtifactTools", "watch_results"]

SAVE_TOOL: Final = "save_artifact"
READ_TOOL: Final = "get_reference_artifact"
LISTED_ARTIFACTS: Final = 12
"""How many of the conversation's artifacts the reference tool lists (Inkeep's limit)."""
_MAX_NAME_CHARS: Final = 120
_MAX_ERRORS: Final = 3


class ArtifactTools:
    """The artifact tools of one agent turn (their `FeatureHandler`), and the turn's tool results."""

    def __init__(
        self,
        store: ArtifactStore,
        *,
        agent_id: str,
        components: Sequence[ArtifactComponentDefinition],
        scope: Scope,
        conversation_id: str,
        run_id: str | None,
        listed: Sequence[ArtifactRecord] = (),
    ) -> None:
        self._store = store
        self.agent_id = agent_id
        self.components = {component.name: component for component in components}
        self.scope = scope
        self.conversation_id = conversation_id
        self.run_id = run_id
        self.listed = tuple(listed)
        self._results: dict[str, Any] = {}
        """Outputs of this turn's successful tool calls, by call id."""
        self._saved: dict[str, ArtifactSaved] = {}
        """Saves not yet reported, by the call id of the `save_artifact` call."""

    @classmethod
    async def for_turn(
        cls,
        store: ArtifactStore,
        graph: GraphDefinition,
        agent: AgentDefinition,
        *,
        scope: Scope,
        conversation_id: str,
        run_id: str | None,
    ) -> ArtifactTools | None:
        """The tools of `agent`'s turn, or None when the graph has no artifact components."""
        if not graph.has_artifact_components:
            return None
        listed = await store.recent(scope, conversation_id, limit=LISTED_ARTIFACTS)
        return cls(
            store,
            agent_id=agent.id,
            components=agent.artifact_components,
            scope=scope,
            conversation_id=conversation_id,
            run_id=run_id,
            listed=listed,
        )

    def extend(self, catalog: ToolCatalog) -> ToolCatalog:
        """`catalog` plus the artifact tools (a name an MCP tool already took gets a suffix)."""
        specs, targets = list(catalog.specs), dict(catalog.targets)
        wanted = [(SAVE_TOOL, self._save_spec)] if self.components else []
        wanted.append((READ_TOOL, self._read_spec))
        for feature, spec_of in wanted:
            name, suffix = feature, 2
            while name in targets:
                name, suffix = f"{feature}_{suffix}", suffix + 1
            specs.append(spec_of(name))
            targets[name] = FeatureTarget(handler=self, feature=feature)
        return ToolCatalog(tuple(specs), targets)

    async def call(self, call_id: str, feature: str, arguments: dict[str, Any]) -> tuple[Any, bool]:
        """Run `save_artifact` or `get_reference_artifact` (errors are results for the model)."""
        if feature == SAVE_TOOL:
            return await self._save(call_id, arguments)
        return await self._read(arguments)

    def observe(self, event: RunEvent) -> None:
        """Remember the result of a tool call or delegation that succeeded (for `save_artifact`)."""
        if isinstance(event, ToolCallFinished) and not event.is_error:
            self._results[event.call_id] = event.output
        elif isinstance(event, DelegationReturned) and not event.is_error:
            self._results[event.call_id] = event.result

    def take_saved(self) -> list[ArtifactSaved]:
        """The artifacts saved since the last call, in call order."""
        saved = list(self._saved.values())
        self._saved.clear()
        return saved

    async def _save(self, call_id: str, arguments: Mapping[str, Any]) -> tuple[Any, bool]:
        names = ", ".join(self.components)
        kind = arguments.get("type")
        if kind is None and len(self.components) == 1:
            kind = next(iter(self.components))
        component = self.components.get(kind) if isinstance(kind, str) else None
        if component is None:
            return f"Error: `type` must be one of: {names}.", True
        tool_call_id = arguments.get("toolCallId")
        if not isinstance(tool_call_id, str) or tool_call_id not in self._results:
            return (
                f"Error: `toolCallId` {json.dumps(tool_call_id)} is not a tool call of yours that has returned a "
                "result; save an artifact only after the tool call returned, using its id.",
                True,
            )
        name, description = arguments.get("name"), arguments.get("description", "")
        if not isinstance(name, str) or not name.strip():
            return "Error: `name` must be a short, non-empty title of the artifact.", True
        if not isinstance(description, str):
            return "Error: `description` must be a string.", True
        summary = arguments.get("summary", {})
        full = arguments.get("full", _as_object(self._results[tool_call_id]))
        problems = [
            *_problems("summary", summary, component.summary_props, component.name, "summaryProps"),
            *_problems("full", full, component.full_props, component.name, "fullProps"),
        ]
        if problems:
            return "Error: " + " ".join(problems), True
        record = await self._store.save(
            self.scope,
            NewArtifact(
                id=f"art_{new_id()}",
                conversation_id=self.conversation_id,
                run_id=self.run_id,
                agent_id=self.agent_id,
                tool_call_id=tool_call_id,
                component_id=component.id,
                type=component.name,
                name=name.strip()[:_MAX_NAME_CHARS],
                description=description.strip(),
                summary=summary,
                full=full,
            ),
        )
        self._saved[call_id] = ArtifactSaved(
            agent_id=self.agent_id,
            artifact_id=record.id,
            tool_call_id=record.tool_call_id,
            type=record.type,
            name=record.name,
            description=record.description,
            summary=record.summary,
        )
        return {"saved": True, "artifactId": record.id, "toolCallId": tool_call_id, "type": record.type}, False

    async def _read(self, arguments: Mapping[str, Any]) -> tuple[Any, bool]:
        artifact_id = arguments.get("artifactId")
        if not isinstance(artifact_id, str) or not artifact_id:
            return "Error: `artifactId` must be the id of an artifact of this conversation.", True
        record = await self._store.get(self.scope, self.conversation_id, artifact_id)
        tool_call_id = arguments.get("toolCallId")
        if record is None or (isinstance(tool_call_id, str) and tool_call_id and tool_call_id != record.tool_call_id):
            return f"Error: there is no artifact {json.dumps(artifact_id)} in this conversation.", True
        return {
            "artifactId": record.id,
            "toolCallId": record.tool_call_id,
            "type": record.type,
            "name": record.name,
            "description": record.description,
            "summary": record.summary,
            "full": record.full,
        }, False

    def _save_spec(self, name: str) -> ToolSpec:
        only = next(iter(self.components.values())) if len(self.components) == 1 else None
        kinds = "\n".join(
            f"- {c.name}: {c.description} summary schema {_schema(c.summary_props)}; "
            f"full schema {_schema(c.full_props)}"
            for c in self.components.values()
        )
        parameters = {
            "type": "object",
            "properties": {
                "toolCallId": {"type": "string", "description": "The id of the tool call whose result you save."},
                "type": {"type": "string", "enum": list(self.components), "description": "The artifact type."},
                "name": {"type": "string", "description": "A short title for the artifact."},
                "description": {"type": "string", "description": "One sentence on what it holds."},
                "summary": dict(only.summary_props) if only and only.summary_props else {"type": "object"},
                "full": dict(only.full_props) if only and only.full_props else {"type": "object"},
            },
            "required": ["toolCallId", "type", "name", "summary"],
        }
        description = (
            "Save the result of one of your tool calls as an artifact the user can see and cite. `summary` is "
            "shown to the user; `full` is stored (leave it out to store the tool result itself when it fits the "
            f"full schema). Artifact types:\n{kinds}"
        )
        return ToolSpec(name=name, description=description, parameters=parameters)

    def _read_spec(self, name: str) -> ToolSpec:
        listed = "\n".join(
            f"- {a.id} ({a.type}, tool call {a.tool_call_id}): {a.name}. {a.description} "
            f"Summary: {json.dumps(a.summary, separators=(',', ':'))}"
            for a in self.listed
        )
        description = "Read the full data of an artifact saved earlier in this conversation." + (
            f" Saved artifacts:\n{listed}" if listed else " No artifacts were saved before this turn."
        )
        parameters = {
            "type": "object",
            "properties": {
                "artifactId": {"type": "string", "description": "The artifact id."},
                "toolCallId": {"type": "string", "description": "The tool call it was saved from (optional)."},
            },
            "required": ["artifactId"],
        }
        return ToolSpec(name=name, description=description, parameters=parameters)


async def watch_results(tools: ArtifactTools | None, events: AsyncIterator[RunEvent]) -> AsyncIterator[RunEvent]:
    """Pass one step's tool events through; with artifact tools, note the results and then report the saves."""
    async for event in events:
        if tools is not None:
            tools.observe(event)
        yield event
    if tools is not None:
        for saved in tools.take_saved():
            yield saved


def _as_object(output: Any) -> Any:
    """A tool result as a JSON object when it is one (text results are parsed)."""
    if isinstance(output, str):
        try:
            return json.loads(output)
        except ValueError:
            return output
    return output


def _problems(field: str, value: Any, schema: Mapping[str, Any], component: str, label: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"`{field}` must be a JSON object matching {component}'s {label} (give it explicitly)."]
    errors = sorted(Draft202012Validator(dict(schema or {})).iter_errors(value), key=lambda e: list(map(str, e.path)))
    return [
        f"`{field}` does not match {component}'s {label} at '/{'/'.join(map(str, error.absolute_path))}': "
        f"{error.message}."
        for error in errors[:_MAX_ERRORS]
    ]


def _schema(schema: Mapping[str, Any]) -> str:
    return json.dumps(dict(schema or {}), separators=(",", ":"))
