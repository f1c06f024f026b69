"""The full-graph document: request and response models, and the checks that need no database.

A document holds one graph with its agents keyed by id, plus the project-level tools, components,
credentials and context config those agents use. `check_document` finds every inconsistency that the
document alone can prove (keys versus ids, references between agents, the default agent) and returns
them all with JSON pointers; `project_references` lists the ids that may instead already exist in the
project, which the writer checks inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from inkeep_runtime.errors import FieldError
from inkeep_runtime.manage.agents import AgentCreate, AgentRead
from inkeep_runtime.manage.components import (
    ArtifactComponentCreate,
    ArtifactComponentRead,
    DataComponentCreate,
    DataComponentRead,
)
from inkeep_runtime.manage.context import ContextConfigCreate, ContextConfigRead
from inkeep_runtime.manage.credentials import CredentialCreate, CredentialRead
from inkeep_runtime.manage.external_agents import ExternalAgentCreate, ExternalAgentRead
from inkeep_runtime.manage.graphs import GraphCreate, GraphRead
from inkeep_runtime.manage.schemas import ResourceId
from inkeep_runtime.manage.tools import ToolCreate, ToolRead

__all__ = [
    "FullGraphAgent",
    "FullGraphAgentRead",
    "FullGraphDefinition",
    "FullGraphExternalAgent",
    "FullGraphExternalAgentRead",
    "FullGraphRead",
    "FullGraphTool",
    "GraphRows",
    "ProjectReference",
    "check_document",
    "pointer",
    "project_references",
    "render_document",
]


def pointer(*parts: object) -> str:
    """A JSON pointer (RFC 6901) to `parts`."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


class FullGraphAgent(AgentCreate):
    """An internal agent of the document, with its relations and associations."""

    can_transfer_to: list[ResourceId] = Field(default_factory=list, description="Agents it may hand the chat to.")
    can_delegate_to: list[ResourceId] = Field(default_factory=list, description="Agents it may call as a tool.")
    tools: list[ResourceId] = Field(default_factory=list, description="Ids of MCP tool records it may use.")
    selected_tools: dict[str, list[str]] | None = Field(
        default=None, description="Per tool id, the tool names it may call (all when absent)."
    )
    data_components: list[ResourceId] = Field(default_factory=list)
    artifact_components: list[ResourceId] = Field(default_factory=list)


class FullGraphExternalAgent(ExternalAgentCreate):
    """An external (A2A) agent of the document."""

    type: Literal["external"] = Field(exclude=True)


class FullGraphTool(ToolCreate):
    """A tool record; the read-only fields that GET returns are accepted and ignored, so GET→PUT round-trips."""

    tenant_id: Any = Field(default=None, exclude=True)
    project_id: Any = Field(default=None, exclude=True)
    status: Any = Field(default=None, exclude=True)
    last_health_check: Any = Field(default=None, exclude=True)
    last_error: Any = Field(default=None, exclude=True)
    available_tools: Any = Field(default=None, exclude=True)
    last_tools_sync: Any = Field(default=None, exclude=True)
    version: Any = Field(default=None, exclude=True)


def _agent_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    # The tags are bracketed because validation_errors() drops bracketed location parts: error pointers
    # then read /agents/router/name rather than /agents/router/internal/name.
    return "[external]" if kind == "external" else "[internal]"


AgentEntry = Annotated[
    Annotated[FullGraphAgent, Tag("[internal]")] | Annotated[FullGraphExternalAgent, Tag("[external]")],
    Discriminator(_agent_kind),
]


def _fill_ids(entries: Any) -> Any:
    if not isinstance(entries, dict):
        return entries
    return {
        key: {**value, "id": key} if isinstance(value, dict) and value.get("id") is None else value
        for key, value in entries.items()
    }


class FullGraphDefinition(GraphCreate):
    """Body of `POST /graph` and `PUT /graph/{graphId}`: a graph with everything its agents use."""

    agents: dict[str, AgentEntry] = Field(description="Internal and external agents keyed by id.")
    tools: dict[str, FullGraphTool] = Field(default_factory=dict, description="MCP tool records keyed by id.")
    credential_references: list[CredentialCreate] | None = Field(
        default=None, description="Credential references (an object keyed by id is accepted too)."
    )
    data_components: dict[str, DataComponentCreate] = Field(default_factory=dict)
    artifact_components: dict[str, ArtifactComponentCreate] = Field(default_factory=dict)
    context_config: ContextConfigCreate | None = Field(
        default=None, description="When present, the graph's contextConfigId is set to its id."
    )

    @field_validator("agents", "tools", "data_components", "artifact_components", mode="before")
    @classmethod
    def _ids_from_keys(cls, value: Any) -> Any:
        return _fill_ids(value)

    @field_validator("credential_references", mode="before")
    @classmethod
    def _credentials_as_list(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return list(_fill_ids(value).values())
        return value

    def internal_agents(self) -> dict[str, FullGraphAgent]:
        """The internal agents by id."""
        return {key: agent for key, agent in self.agents.items() if isinstance(agent, FullGraphAgent)}

    def external_agents(self) -> dict[str, FullGraphExternalAgent]:
        """The external agents by id."""
        return {key: agent for key, agent in self.agents.items() if isinstance(agent, FullGraphExternalAgent)}

    def effective_context_config_id(self) -> str | None:
        """The graph's context config: the embedded one, else `contextConfigId`."""
        return self.context_config.id if self.context_config is not None else self.context_config_id


class FullGraphAgentRead(AgentRead):
    """An internal agent in the returned document."""

    type: Literal["internal"] = "internal"
    can_transfer_to: list[str]
    can_delegate_to: list[str]
    tools: list[str]
    selected_tools: dict[str, list[str]]
    data_components: list[str]
    artifact_components: list[str]


class FullGraphExternalAgentRead(ExternalAgentRead):
    """An external agent in the returned document."""

    type: Literal["external"] = "external"


class FullGraphRead(GraphRead):
    """The canonical full-graph document."""

    agents: dict[str, Annotated[FullGraphAgentRead | FullGraphExternalAgentRead, Field(discriminator="type")]]
    tools: dict[str, ToolRead]
    credential_references: list[CredentialRead]
    data_components: dict[str, DataComponentRead]
    artifact_components: dict[str, ArtifactComponentRead]
    context_config: ContextConfigRead | None = None


Row = dict[str, Any]


@dataclass(slots=True, kw_only=True)
class GraphRows:
    """The stored rows that make up one graph's document, associations in stored order."""

    graph: Row
    relations: list[Row] = field(default_factory=list)
    agents: list[Row] = field(default_factory=list)
    external_agents: list[Row] = field(default_factory=list)
    tool_links: list[Row] = field(default_factory=list)
    data_links: list[Row] = field(default_factory=list)
    artifact_links: list[Row] = field(default_factory=list)
    tools: list[Row] = field(default_factory=list)
    credentials: list[Row] = field(default_factory=list)
    data_components: list[Row] = field(default_factory=list)
    artifact_components: list[Row] = field(default_factory=list)
    context_config: Row | None = None


def _agent_entry(agent: Row, found: GraphRows) -> Row:
    agent_id = agent["id"]
    relations = [row for row in found.relations if row["source_agent_id"] == agent_id]
    tools = [row for row in found.tool_links if row["agent_id"] == agent_id]

    def targets(kind: str) -> list[str]:
        return [r["target_agent_id"] or r["external_agent_id"] for r in relations if r["relation_type"] == kind]

    return {
        **agent,
        "type": "internal",
        "can_transfer_to": targets("transfer"),
        "can_delegate_to": targets("delegate"),
        "tools": [row["tool_id"] for row in tools],
        "selected_tools": {row["tool_id"]: row["selected_tools"] for row in tools if row["selected_tools"] is not None},
        "data_components": [row["data_component_id"] for row in found.data_links if row["agent_id"] == agent_id],
        "artifact_components": [
            row["artifact_component_id"] for row in found.artifact_links if row["agent_id"] == agent_id
        ],
    }


def render_document(found: GraphRows) -> Row:
    """The canonical document (wire form) of the rows of one graph."""
    agents = {agent["id"]: _agent_entry(agent, found) for agent in found.agents}
    agents |= {agent["id"]: {**agent, "type": "external"} for agent in found.external_agents}
    document = FullGraphRead.model_validate(
        {
            **found.graph,
            "agents": agents,
            "tools": {row["id"]: row for row in found.tools},
            "credential_references": found.credentials,
            "data_components": {row["id"]: row for row in found.data_components},
            "artifact_components": {row["id"]: row for row in found.artifact_components},
            "context_config": found.context_config,
        }
    )
    return document.model_dump(mode="json")


def _key_errors(doc: FullGraphDefinition) -> Iterator[FieldError]:
    sections: dict[str, dict[str, Any]] = {
        "agents": doc.agents,
        "tools": doc.tools,
        "dataComponents": doc.data_components,
        "artifactComponents": doc.artifact_components,
    }
    for section, entries in sections.items():
        for key, entry in entries.items():
            if entry.id != key:
                message = f"Id '{entry.id}' does not match its key '{key}' in {section}; they must be equal."
                yield FieldError(pointer=pointer(section, key, "id"), message=message)
    if doc.credential_references is not None:
        seen: set[str] = set()
        for index, credential in enumerate(doc.credential_references):
            if credential.id in seen:
                message = f"Credential '{credential.id}' is listed twice."
                yield FieldError(pointer=pointer("credentialReferences", index, "id"), message=message)
            seen.add(credential.id)


def _duplicates(values: list[str], *where: object) -> Iterator[FieldError]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield FieldError(pointer=pointer(*where, index), message=f"'{value}' is listed twice.")
        seen.add(value)


def _agent_errors(doc: FullGraphDefinition, key: str, agent: FullGraphAgent) -> Iterator[FieldError]:
    for name, targets in (("canTransferTo", agent.can_transfer_to), ("canDelegateTo", agent.can_delegate_to)):
        yield from _duplicates(targets, "agents", key, name)
        for index, target in enumerate(targets):
            if target not in doc.agents:
                message = (
                    f"Graph '{doc.id}' has no agent '{target}' (referenced by agents/{key}/{name}); "
                    "expected the id of an internal or external agent of the document."
                )
                yield FieldError(pointer=pointer("agents", key, name, index), message=message)
    for name, values in (
        ("tools", agent.tools),
        ("dataComponents", agent.data_components),
        ("artifactComponents", agent.artifact_components),
    ):
        yield from _duplicates(values, "agents", key, name)
    for tool_id in agent.selected_tools or {}:
        if tool_id not in agent.tools:
            message = f"selectedTools names tool '{tool_id}', which is not in the agent's tools {agent.tools}."
            yield FieldError(pointer=pointer("agents", key, "selectedTools", tool_id), message=message)


def check_document(doc: FullGraphDefinition) -> list[FieldError]:
    """Every inconsistency the document alone can prove, with the JSON pointer of each."""
    errors = list(_key_errors(doc))
    internal = doc.internal_agents()
    if doc.default_agent_id is not None and doc.default_agent_id not in internal:
        message = f"Graph '{doc.id}' has no internal agent '{doc.default_agent_id}' (referenced by defaultAgentId)."
        errors.append(FieldError(pointer="/defaultAgentId", message=message))
    if doc.context_config is not None and doc.context_config_id not in {None, doc.context_config.id}:
        message = (
            f"contextConfigId '{doc.context_config_id}' differs from the embedded contextConfig "
            f"'{doc.context_config.id}'; omit it or make them equal."
        )
        errors.append(FieldError(pointer="/contextConfigId", message=message))
    for key, agent in internal.items():
        errors.extend(_agent_errors(doc, key, agent))
    return errors


@dataclass(frozen=True, slots=True)
class ProjectReference:
    """An id the document uses but may not define: it must then exist in the project."""

    pointer: str
    kind: str
    """The table the id must be in."""
    id: str
    label: str


def project_references(doc: FullGraphDefinition) -> list[ProjectReference]:
    """The references to tools, components, credentials and context configs that the document does not define."""
    credentials = {c.id for c in doc.credential_references or []}
    found: list[ProjectReference] = []
    for key, agent in doc.internal_agents().items():
        for name, kind, label, defined, values in (
            ("tools", "tools", "Tool", doc.tools, agent.tools),
            ("dataComponents", "data_components", "Data component", doc.data_components, agent.data_components),
            (
                "artifactComponents",
                "artifact_components",
                "Artifact component",
                doc.artifact_components,
                agent.artifact_components,
            ),
        ):
            found.extend(
                ProjectReference(pointer("agents", key, name, index), kind, value, label)
                for index, value in enumerate(values)
                if value not in defined
            )
    holders: list[tuple[str, str | None]] = [
        (pointer("tools", key, "credentialReferenceId"), tool.credential_reference_id)
        for key, tool in doc.tools.items()
    ]
    holders += [
        (pointer("agents", key, "credentialReferenceId"), agent.credential_reference_id)
        for key, agent in doc.external_agents().items()
    ]
    if doc.context_config is not None:
        variables = doc.context_config.context_variables or {}
        holders += [
            (pointer("contextConfig", "contextVariables", name, "credentialReferenceId"), var.credential_reference_id)
            for name, var in variables.items()
        ]
    found.extend(
        ProjectReference(where, "credential_references", value, "Credential")
        for where, value in holders
        if value is not None and value not in credentials
    )
    if doc.context_config is None and doc.context_config_id is not None:
        found.append(ProjectReference("/contextConfigId", "context_configs", doc.context_config_id, "Context config"))
    return found
