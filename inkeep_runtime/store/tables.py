"""SQLModel tables. Never imported outside `inkeep_runtime.store`.

Every row is scoped by `(tenant_id, project_id)`; composite foreign keys keep a row from pointing into
another tenant or project. Timestamps are ISO-8601 UTC strings with milliseconds (`...Z`), the form the
API returns, so they sort lexically and read the same on SQLite and PostgreSQL. The schema is created
only by `store/migrations.py`; `tests/store/test_migrations.py` checks the two agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from inkeep_runtime.store.table_keys import ID_LENGTH as _ID
from inkeep_runtime.store.table_keys import project_fk as _project_fk
from inkeep_runtime.store.table_keys import scoped_fk as _fk
from inkeep_runtime.store.tables_a2a import A2ATask
from inkeep_runtime.store.tables_artifacts import Artifact
from inkeep_runtime.store.tables_context import ContextCacheEntry
from inkeep_runtime.store.tables_oauth import OAuthClient, OAuthState, OAuthToken
from inkeep_runtime.store.tables_observe import QueryLog, QueryStep, ToolCallLog
from inkeep_runtime.store.tables_permissions import (
    AgentToolPermission,
    ToolApproval,
    ToolOverride,
    ToolPermissionDefault,
)

__all__ = [
    "A2ATask",
    "Agent",
    "AgentArtifactComponent",
    "AgentDataComponent",
    "AgentGraph",
    "AgentRelation",
    "AgentToolPermission",
    "AgentToolRelation",
    "ApiKey",
    "Artifact",
    "ArtifactComponent",
    "ContextCacheEntry",
    "ContextConfig",
    "Conversation",
    "CredentialReference",
    "DataComponent",
    "ExternalAgent",
    "Message",
    "OAuthClient",
    "OAuthState",
    "OAuthToken",
    "Project",
    "QueryLog",
    "QueryStep",
    "Tool",
    "ToolApproval",
    "ToolCallLog",
    "ToolOverride",
    "ToolPermissionDefault",
]


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    name: str
    description: str
    created_at: str
    updated_at: str


class AgentGraph(SQLModel, table=True):
    __tablename__ = "agent_graphs"
    __table_args__ = (
        _project_fk(),
        _fk("default_agent_id", "agents", "RESTRICT"),
        _fk("context_config_id", "context_configs", "RESTRICT"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    name: str
    description: str | None = None
    default_agent_id: str | None = Field(default=None, max_length=_ID)
    context_config_id: str | None = Field(default=None, max_length=_ID)
    model_settings: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    status_updates: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    stop_when: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: str
    updated_at: str


class Agent(SQLModel, table=True):
    __tablename__ = "agents"
    __table_args__ = (_project_fk(), Index("ix_agents_graph", "tenant_id", "project_id", "graph_id"))
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    graph_id: str | None = Field(default=None, max_length=_ID)
    """The graph whose full-graph document owns this agent (None when created on its own)."""
    name: str
    description: str
    instructions: str
    conversation_history_config: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    model_settings: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    stop_when: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: str
    updated_at: str


class ExternalAgent(SQLModel, table=True):
    __tablename__ = "external_agents"
    __table_args__ = (_project_fk(), _fk("credential_reference_id", "credential_references", "RESTRICT"))
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    graph_id: str | None = Field(default=None, max_length=_ID)
    name: str
    description: str
    base_url: str
    credential_reference_id: str | None = Field(default=None, max_length=_ID)
    headers: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: str
    updated_at: str


class AgentRelation(SQLModel, table=True):
    __tablename__ = "agent_relations"
    __table_args__ = (
        _project_fk(),
        _fk("graph_id", "agent_graphs", "CASCADE"),
        _fk("source_agent_id", "agents", "CASCADE"),
        _fk("target_agent_id", "agents", "CASCADE"),
        _fk("external_agent_id", "external_agents", "CASCADE"),
        Index("ix_agent_relations_graph", "tenant_id", "project_id", "graph_id"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    graph_id: str = Field(max_length=_ID)
    source_agent_id: str = Field(max_length=_ID)
    target_agent_id: str | None = Field(default=None, max_length=_ID)
    external_agent_id: str | None = Field(default=None, max_length=_ID)
    relation_type: str = Field(max_length=16)
    created_at: str
    updated_at: str


class Tool(SQLModel, table=True):
    __tablename__ = "tools"
    __table_args__ = (_project_fk(), _fk("credential_reference_id", "credential_references", "RESTRICT"))
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    name: str
    config: dict[str, Any] = Field(sa_type=JSON)
    credential_reference_id: str | None = Field(default=None, max_length=_ID)
    headers: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    image_url: str | None = None
    capabilities: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    metadata_: dict[str, Any] | None = Field(default=None, sa_type=JSON, sa_column_kwargs={"name": "metadata"})
    status: str = Field(default="unknown", max_length=32)
    last_health_check: str | None = None
    last_error: str | None = None
    available_tools: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    last_tools_sync: str | None = None
    version: str | None = None
    created_at: str
    updated_at: str


class AgentToolRelation(SQLModel, table=True):
    __tablename__ = "agent_tool_relations"
    __table_args__ = (
        _project_fk(),
        _fk("agent_id", "agents", "CASCADE"),
        _fk("tool_id", "tools", "CASCADE"),
        UniqueConstraint("tenant_id", "project_id", "agent_id", "tool_id", name="uq_agent_tool"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    agent_id: str = Field(max_length=_ID)
    tool_id: str = Field(max_length=_ID)
    selected_tools: list[str] | None = Field(default=None, sa_type=JSON)
    headers: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: str
    updated_at: str


class DataComponent(SQLModel, table=True):
    __tablename__ = "data_components"
    __table_args__ = (_project_fk(),)
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    name: str
    description: str
    props: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: str
    updated_at: str


class ArtifactComponent(SQLModel, table=True):
    __tablename__ = "artifact_components"
    __table_args__ = (_project_fk(),)
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    name: str
    description: str
    summary_props: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    full_props: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: str
    updated_at: str


class AgentDataComponent(SQLModel, table=True):
    __tablename__ = "agent_data_components"
    __table_args__ = (
        _project_fk(),
        _fk("agent_id", "agents", "CASCADE"),
        _fk("data_component_id", "data_components", "CASCADE"),
        UniqueConstraint("tenant_id", "project_id", "agent_id", "data_component_id", name="uq_agent_data_component"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    agent_id: str = Field(max_length=_ID)
    data_component_id: str = Field(max_length=_ID)
    created_at: str


class AgentArtifactComponent(SQLModel, table=True):
    __tablename__ = "agent_artifact_components"
    __table_args__ = (
        _project_fk(),
        _fk("agent_id", "agents", "CASCADE"),
        _fk("artifact_component_id", "artifact_components", "CASCADE"),
        UniqueConstraint(
            "tenant_id", "project_id", "agent_id", "artifact_component_id", name="uq_agent_artifact_component"
        ),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    agent_id: str = Field(max_length=_ID)
    artifact_component_id: str = Field(max_length=_ID)
    created_at: str


class ContextConfig(SQLModel, table=True):
    __tablename__ = "context_configs"
    __table_args__ = (_project_fk(),)
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    name: str
    description: str
    request_context_schema: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    context_variables: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: str
    updated_at: str


class CredentialReference(SQLModel, table=True):
    __tablename__ = "credential_references"
    __table_args__ = (_project_fk(),)
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    type: str = Field(max_length=64)
    credential_store_id: str = Field(max_length=_ID)
    retrieval_params: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: str
    updated_at: str


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (
        _project_fk(),
        _fk("graph_id", "agent_graphs", "CASCADE"),
        UniqueConstraint("public_id", name="uq_api_keys_public_id"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    graph_id: str = Field(max_length=_ID)
    public_id: str = Field(max_length=32)
    key_hash: str = Field(max_length=512)
    key_prefix: str = Field(max_length=32)
    name: str | None = None
    last_used_at: str | None = None
    expires_at: str | None = None
    created_at: str
    updated_at: str


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (_project_fk(), _fk("graph_id", "agent_graphs", "CASCADE"))
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    graph_id: str = Field(max_length=_ID)
    active_agent_id: str = Field(max_length=_ID)
    """Who answers the next user message (changed only by a transfer)."""
    created_at: str
    updated_at: str


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        _project_fk(),
        _fk("conversation_id", "conversations", "CASCADE"),
        UniqueConstraint("tenant_id", "project_id", "conversation_id", "seq", name="uq_messages_seq"),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    id: str = Field(primary_key=True, max_length=_ID)
    conversation_id: str = Field(max_length=_ID)
    seq: int
    """Position in the conversation, from 1."""
    role: str = Field(max_length=16)
    content: str
    agent_id: str | None = Field(default=None, max_length=_ID)
    visibility: str = Field(default="user", max_length=16)
    """`user` (shown to the user and in history) or `internal` (tool calls, delegations)."""
    message_type: str = Field(default="chat", max_length=32)
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    tool_call_id: str | None = Field(default=None, max_length=_ID)
    is_partial: bool = False
    """The turn was cancelled or failed before this message was complete."""
    run_id: str | None = Field(default=None, max_length=_ID)
    created_at: str
