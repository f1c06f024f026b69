"""The context cache: resolved context variables (and the request context) of each conversation.

One row per (conversation, context config, variable key). `request_hash` and `definition_hash` say
what the value was fetched for: a row whose request context or variable definition differs from the
current one is a miss, so a changed `userId` or an edited fetch config re-fetches. The reserved key
`$request` holds the conversation's last request context, reused by turns that send none. Rows go
with their conversation and their context config (`ON DELETE CASCADE`).
"""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint
from sqlmodel import Field, SQLModel

__all__ = ["ContextCacheEntry"]

_ID = 255


class ContextCacheEntry(SQLModel, table=True):
    """One cached value."""

    __tablename__ = "context_cache"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "project_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.project_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "project_id", "context_config_id"],
            ["context_configs.tenant_id", "context_configs.project_id", "context_configs.id"],
            ondelete="CASCADE",
        ),
    )
    tenant_id: str = Field(primary_key=True, max_length=_ID)
    project_id: str = Field(primary_key=True, max_length=_ID)
    conversation_id: str = Field(primary_key=True, max_length=_ID)
    context_config_id: str = Field(primary_key=True, max_length=_ID)
    variable_key: str = Field(primary_key=True, max_length=_ID)
    value: str
    """The value as JSON text."""
    request_hash: str = Field(max_length=64)
    definition_hash: str = Field(max_length=64)
    fetched_at: str
