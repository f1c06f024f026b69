"""Migration 006: MCP OAuth client registrations, pending logins and tokens.

A frozen snapshot: later schema changes are new migrations, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["upgrade"]


def _key(name: str, metadata: sa.MetaData, *, project: bool = True) -> sa.Table:
    """A stub of a referenced table: only its primary key, enough for foreign keys to resolve."""
    columns = [sa.Column("tenant_id", sa.String(255), primary_key=True)]
    if project:
        columns.append(sa.Column("project_id", sa.String(255), primary_key=True))
    columns.append(sa.Column("id", sa.String(255), primary_key=True))
    return sa.Table(name, metadata, *columns)


def _scoped_fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "project_id", column],
        [f"{target}.tenant_id", f"{target}.project_id", f"{target}.id"],
        ondelete="CASCADE",
    )


def _scope_columns() -> list[sa.Column[str]]:
    return [
        sa.Column("tenant_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), primary_key=True, nullable=False),
        sa.Column("id", sa.String(255), primary_key=True, nullable=False),
    ]


def _project_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
    )


def upgrade(connection: sa.Connection) -> None:
    """Create the OAuth tables."""
    metadata = sa.MetaData()
    _key("projects", metadata, project=False)
    _key("tools", metadata)
    _key("credential_references", metadata)
    clients = sa.Table(
        "oauth_clients",
        metadata,
        *_scope_columns(),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=True),
        sa.Column("token_endpoint_auth_method", sa.String(64), nullable=False),
        sa.Column("client_secret_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        _project_fk(),
    )
    states = sa.Table(
        "oauth_states",
        metadata,
        *_scope_columns(),
        sa.Column("tool_id", sa.String(255), nullable=False),
        sa.Column("client_ref", sa.String(255), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("token_endpoint", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Text(), nullable=False),
        sa.Column("consumed_at", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        _project_fk(),
        _scoped_fk("tool_id", "tools"),
        _scoped_fk("client_ref", "oauth_clients"),
        sa.UniqueConstraint("id", name="uq_oauth_states_id"),
    )
    tokens = sa.Table(
        "oauth_tokens",
        metadata,
        *_scope_columns(),
        sa.Column("tool_id", sa.String(255), nullable=True),
        sa.Column("client_ref", sa.String(255), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_type", sa.String(32), nullable=False),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Text(), nullable=True),
        sa.Column("token_endpoint", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        _project_fk(),
        _scoped_fk("id", "credential_references"),
        _scoped_fk("client_ref", "oauth_clients"),
    )
    for table in (clients, states, tokens):
        table.create(connection)
