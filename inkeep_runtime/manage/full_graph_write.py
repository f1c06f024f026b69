"""Writing a full-graph document: validation, then one upsert inside the caller's write transaction.

`write_graph` checks the document (`full_graph_models.check_document`) and that everything it names
exists in it or in the project, then writes. Project-level resources (credentials, context config,
tools, components) go first, then the graph row (keeping its old default agent), the agents it owns,
the graph again with the new default, then this graph's relations and the agents' associations, and
last the agents the document no longer names. That order satisfies every foreign key (the default
agent is RESTRICT), and any failure rolls the whole document back, so the old graph stays intact.

Association lists keep the document's order: rows are read back by (created_at, id), and a group whose
order or content changed is rewritten with ids that sort in insertion order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from inkeep_runtime.errors import Conflict, FieldError, InvalidRequest
from inkeep_runtime.ids import new_id
from inkeep_runtime.manage.agents import AgentCreate
from inkeep_runtime.manage.external_agents import ExternalAgentCreate
from inkeep_runtime.manage.full_graph_models import FullGraphDefinition, check_document, project_references
from inkeep_runtime.manage.graphs import GraphCreate
from inkeep_runtime.manage.schemas import RequestModel
from inkeep_runtime.store.rows import Rows, Scope

__all__ = ["GraphWrite", "write_graph"]

_SERVER_FIELDS = frozenset({"created_at", "updated_at", "type"})


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphWrite:
    """What a write did."""

    is_created: bool
    """The graph did not exist before."""
    is_changed: bool
    """Any row was inserted, updated or deleted."""


def _columns(model: RequestModel, base: type[BaseModel]) -> dict[str, Any]:
    """The values of `model` that are columns of `base`'s table."""
    values = model.values()
    return {key: value for key, value in values.items() if key in base.model_fields and key not in _SERVER_FIELDS}


def _invalid(errors: list[FieldError]) -> InvalidRequest:
    return InvalidRequest(" ".join(error.message for error in errors), errors)


@dataclass(slots=True)
class _Writer:
    rows: Rows
    scope: Scope
    is_changed: bool = False
    _batch: str = field(default_factory=new_id)
    _count: int = 0

    def _next_id(self) -> str:
        self._count += 1
        return f"{self._batch}-{self._count:05d}"

    async def upsert(self, kind: str, values: dict[str, Any], *, label: str, old: dict[str, Any] | None = None) -> None:
        old = old if old is not None else await self.rows.get(kind, self.scope, values["id"])
        if old is None:
            await self.rows.insert(kind, self.scope, values, label=label)
            self.is_changed = True
            return
        changes = {key: value for key, value in values.items() if old.get(key) != value}
        if changes:
            await self.rows.update(kind, self.scope, values["id"], changes, label=label)
            self.is_changed = True

    async def claim(self, kind: str, values: dict[str, Any], graph_id: str, *, label: str) -> None:
        """Upsert an agent row owned by `graph_id`; refuse one that another graph owns."""
        old = await self.rows.get(kind, self.scope, values["id"])
        if old is not None and old["graph_id"] not in {None, graph_id}:
            msg = (
                f"{label} '{values['id']}' belongs to graph '{old['graph_id']}'; "
                "agent ids are unique per project, so rename it or remove it from that graph first."
            )
            raise Conflict(msg)
        await self.upsert(kind, {**values, "graph_id": graph_id}, label=label, old=old)

    async def replace_group(
        self, kind: str, old: list[dict[str, Any]], new: list[dict[str, Any]], compare: tuple[str, ...], *, label: str
    ) -> None:
        """Make the ordered rows of one group equal `new`; rewrite them only when they differ."""
        if [tuple(row.get(c) for c in compare) for row in old] == [tuple(row.get(c) for c in compare) for row in new]:
            return
        if old:
            await self.rows.delete(kind, self.scope, label=label, id=[row["id"] for row in old])
        for values in new:
            await self.rows.insert(kind, self.scope, {"id": self._next_id(), **values}, label=label)
        self.is_changed = True

    async def replace_groups(
        self,
        kind: str,
        old: list[dict[str, Any]],
        new: list[dict[str, Any]],
        group: tuple[str, ...],
        compare: tuple[str, ...],
        *,
        label: str,
    ) -> None:
        """`replace_group` for every group (rows sharing the `group` columns) in `old` or `new`."""
        old_groups = _grouped(old, group)
        new_groups = _grouped(new, group)
        for key in dict.fromkeys([*old_groups, *new_groups]):
            await self.replace_group(kind, old_groups.get(key, []), new_groups.get(key, []), compare, label=label)


def _grouped(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    found: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(tuple(row[c] for c in columns), []).append(row)
    return found


async def _check_project_references(rows: Rows, scope: Scope, doc: FullGraphDefinition) -> None:
    errors = [
        FieldError(
            pointer=ref.pointer,
            message=f"{ref.label} '{ref.id}' is neither defined in the document nor exists in project "
            f"'{scope.project_id}'.",
        )
        for ref in project_references(doc)
        if await rows.get(ref.kind, scope, ref.id) is None
    ]
    if errors:
        raise _invalid(errors)


async def _write_project_resources(writer: _Writer, doc: FullGraphDefinition) -> None:
    for credential in doc.credential_references or []:
        await writer.upsert("credential_references", credential.values(), label="Credential")
    if doc.context_config is not None:
        await writer.upsert("context_configs", doc.context_config.values(), label="Context config")
    for tool in doc.tools.values():
        await writer.upsert("tools", tool.values(), label="Tool")
    for data in doc.data_components.values():
        await writer.upsert("data_components", data.values(), label="Data component")
    for artifact in doc.artifact_components.values():
        await writer.upsert("artifact_components", artifact.values(), label="Artifact component")


async def _write_links(writer: _Writer, doc: FullGraphDefinition) -> None:
    rows, scope = writer.rows, writer.scope
    internal = doc.internal_agents()
    relations: list[dict[str, Any]] = []
    for key, agent in internal.items():
        for relation_type, targets in (("transfer", agent.can_transfer_to), ("delegate", agent.can_delegate_to)):
            relations.extend(
                {
                    "graph_id": doc.id,
                    "source_agent_id": key,
                    "relation_type": relation_type,
                    "target_agent_id": t if t in internal else None,
                    "external_agent_id": None if t in internal else t,
                }
                for t in targets
            )
    old_relations = await rows.find("agent_relations", scope, graph_id=doc.id)
    await writer.replace_groups(
        "agent_relations",
        old_relations,
        relations,
        ("source_agent_id", "relation_type"),
        ("target_agent_id", "external_agent_id"),
        label="Agent relation",
    )
    agent_ids = list(internal)
    old_tools = await rows.find("agent_tool_relations", scope, agent_id=agent_ids) if agent_ids else []
    headers = {(row["agent_id"], row["tool_id"]): row["headers"] for row in old_tools}
    tools = [
        {
            "agent_id": key,
            "tool_id": tool_id,
            "selected_tools": (agent.selected_tools or {}).get(tool_id),
            "headers": headers.get((key, tool_id)),
        }
        for key, agent in internal.items()
        for tool_id in agent.tools
    ]
    await writer.replace_groups(
        "agent_tool_relations",
        old_tools,
        tools,
        ("agent_id",),
        ("tool_id", "selected_tools"),
        label="Agent tool relation",
    )
    for kind, column, attribute in (
        ("agent_data_components", "data_component_id", "data_components"),
        ("agent_artifact_components", "artifact_component_id", "artifact_components"),
    ):
        old_links = await rows.find(kind, scope, agent_id=agent_ids) if agent_ids else []
        links = [
            {"agent_id": key, column: value} for key, agent in internal.items() for value in getattr(agent, attribute)
        ]
        await writer.replace_groups(kind, old_links, links, ("agent_id",), (column,), label="Agent component")


async def _delete_orphans(writer: _Writer, doc: FullGraphDefinition) -> None:
    for kind, keep, label in (
        ("agents", doc.internal_agents(), "Agent"),
        ("external_agents", doc.external_agents(), "External agent"),
    ):
        owned = await writer.rows.find(kind, writer.scope, graph_id=doc.id)
        orphans = [row["id"] for row in owned if row["id"] not in keep]
        if orphans:
            names = ", ".join(f"'{o}'" for o in orphans)
            await writer.rows.delete(kind, writer.scope, label=f"{label} {names}", id=orphans)
            writer.is_changed = True


async def write_graph(
    rows: Rows, scope: Scope, doc: FullGraphDefinition, *, is_create_only: bool = False
) -> GraphWrite:
    """Create or replace the graph `doc` describes (inside the caller's write transaction).

    Raises:
        InvalidRequest: the document is inconsistent, or names tools, components, credentials or a
            context config that exist neither in it nor in the project.
        Conflict: the graph exists and `is_create_only`, or an agent id belongs to another graph.
    """
    errors = check_document(doc)
    if errors:
        raise _invalid(errors)
    old_graph = await rows.get("agent_graphs", scope, doc.id)
    if old_graph is not None and is_create_only:
        msg = f"Graph '{doc.id}' already exists in project '{scope.project_id}'; use PUT to replace it."
        raise Conflict(msg)
    await _check_project_references(rows, scope, doc)
    writer = _Writer(rows, scope)
    await _write_project_resources(writer, doc)
    graph = {**_columns(doc, GraphCreate), "context_config_id": doc.effective_context_config_id()}
    # The new default agent may not exist yet: keep the old one until the agents are written.
    keep_default = old_graph["default_agent_id"] if old_graph is not None else None
    await writer.upsert("agent_graphs", {**graph, "default_agent_id": keep_default}, label="Graph", old=old_graph)
    for agent in doc.internal_agents().values():
        await writer.claim("agents", _columns(agent, AgentCreate), doc.id, label="Agent")
    for external in doc.external_agents().values():
        await writer.claim("external_agents", _columns(external, ExternalAgentCreate), doc.id, label="External agent")
    await writer.upsert("agent_graphs", graph, label="Graph")
    await _write_links(writer, doc)
    await _delete_orphans(writer, doc)
    return GraphWrite(is_created=old_graph is None, is_changed=writer.is_changed)
