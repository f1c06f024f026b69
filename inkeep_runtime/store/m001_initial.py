"""Migration 001: the initial schema of the definitions (projects and everything scoped by them).

A frozen snapshot: later schema changes are new migrations, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["upgrade"]


def upgrade(connection: sa.Connection) -> None:
    """Create the initial tables."""
    metadata = sa.MetaData()
    sa.Table(
        "projects",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
    )
    sa.Table(
        "agents",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("graph_id", sa.String(255), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("conversation_history_config", sa.JSON(), nullable=True),
        sa.Column("model_settings", sa.JSON(), nullable=True),
        sa.Column("stop_when", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.Index("ix_agents_graph", "tenant_id", "project_id", "graph_id"),
    )
    sa.Table(
        "artifact_components",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("summary_props", sa.JSON(), nullable=True),
        sa.Column("full_props", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
    )
    sa.Table(
        "context_configs",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("request_context_schema", sa.JSON(), nullable=True),
        sa.Column("context_variables", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
    )
    sa.Table(
        "credential_references",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("credential_store_id", sa.String(255), nullable=False),
        sa.Column("retrieval_params", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
    )
    sa.Table(
        "data_components",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("props", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
    )
    sa.Table(
        "agent_artifact_components",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("agent_id", sa.String(255), nullable=False),
        sa.Column("artifact_component_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "artifact_component_id"],
            ["artifact_components.tenant_id", "artifact_components.project_id", "artifact_components.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "agent_id"],
            ["agents.tenant_id", "agents.project_id", "agents.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.UniqueConstraint(
            "tenant_id", "project_id", "agent_id", "artifact_component_id", name="uq_agent_artifact_component"
        ),
    )
    sa.Table(
        "agent_data_components",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("agent_id", sa.String(255), nullable=False),
        sa.Column("data_component_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "data_component_id"],
            ["data_components.tenant_id", "data_components.project_id", "data_components.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "agent_id"],
            ["agents.tenant_id", "agents.project_id", "agents.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.UniqueConstraint("tenant_id", "project_id", "agent_id", "data_component_id", name="uq_agent_data_component"),
    )
    sa.Table(
        "agent_graphs",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_agent_id", sa.String(255), nullable=True),
        sa.Column("context_config_id", sa.String(255), nullable=True),
        sa.Column("model_settings", sa.JSON(), nullable=True),
        sa.Column("status_updates", sa.JSON(), nullable=True),
        sa.Column("stop_when", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "context_config_id"],
            ["context_configs.tenant_id", "context_configs.project_id", "context_configs.id"],
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "default_agent_id"],
            ["agents.tenant_id", "agents.project_id", "agents.id"],
            ondelete="RESTRICT",
        ),
    )
    sa.Table(
        "external_agents",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("graph_id", sa.String(255), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("credential_reference_id", sa.String(255), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "credential_reference_id"],
            ["credential_references.tenant_id", "credential_references.project_id", "credential_references.id"],
            ondelete="RESTRICT",
        ),
    )
    sa.Table(
        "tools",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("credential_reference_id", sa.String(255), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("capabilities", sa.JSON(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("last_health_check", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("available_tools", sa.JSON(), nullable=True),
        sa.Column("last_tools_sync", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "credential_reference_id"],
            ["credential_references.tenant_id", "credential_references.project_id", "credential_references.id"],
            ondelete="RESTRICT",
        ),
    )
    sa.Table(
        "agent_relations",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("graph_id", sa.String(255), nullable=False),
        sa.Column("source_agent_id", sa.String(255), nullable=False),
        sa.Column("target_agent_id", sa.String(255), nullable=True),
        sa.Column("external_agent_id", sa.String(255), nullable=True),
        sa.Column("relation_type", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "target_agent_id"],
            ["agents.tenant_id", "agents.project_id", "agents.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "source_agent_id"],
            ["agents.tenant_id", "agents.project_id", "agents.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "external_agent_id"],
            ["external_agents.tenant_id", "external_agents.project_id", "external_agents.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "graph_id"],
            ["agent_graphs.tenant_id", "agent_graphs.project_id", "agent_graphs.id"],
            ondelete="CASCADE",
        ),
        sa.Index("ix_agent_relations_graph", "tenant_id", "project_id", "graph_id"),
    )
    sa.Table(
        "agent_tool_relations",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("agent_id", sa.String(255), nullable=False),
        sa.Column("tool_id", sa.String(255), nullable=False),
        sa.Column("selected_tools", sa.JSON(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.UniqueConstraint("tenant_id", "project_id", "agent_id", "tool_id", name="uq_agent_tool"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "agent_id"],
            ["agents.tenant_id", "agents.project_id", "agents.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "tool_id"],
            ["tools.tenant_id", "tools.project_id", "tools.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
    )
    sa.Table(
        "api_keys",
        metadata,
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("graph_id", sa.String(255), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(512), nullable=False),
        sa.Column("key_prefix", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("last_used_at", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "graph_id"],
            ["agent_graphs.tenant_id", "agent_graphs.project_id", "agent_graphs.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        sa.UniqueConstraint("public_id", name="uq_api_keys_public_id"),
    )
    metadata.create_all(connection)
