"""Conversations and messages: what was said, by whom, and who answers next.

The user's message is committed before the model is called and the answer when the turn ends (also
when it is cancelled or fails, then marked partial), so a crash mid-turn leaves a consistent,
continuable conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from inkeep_runtime.errors import Conflict
from inkeep_runtime.ids import new_id
from inkeep_runtime.store import tables
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope, utc_now

__all__ = ["ConversationRecord", "ConversationStore", "MessageRecord", "NewMessage"]

Role = Literal["system", "user", "assistant", "tool"]
Visibility = Literal["user", "internal"]

_CONVERSATIONS: sa.Table = tables.Conversation.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = tables.Message.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRecord:
    """A stored conversation."""

    id: str
    graph_id: str
    active_agent_id: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    """A message to store."""

    role: Role
    content: str
    agent_id: str | None = None
    visibility: Visibility = "user"
    message_type: str = "chat"
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    is_partial: bool = False
    run_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    """A stored message."""

    id: str
    seq: int
    role: Role
    content: str
    agent_id: str | None
    visibility: Visibility
    message_type: str
    tool_calls: list[dict[str, Any]] | None
    tool_call_id: str | None
    is_partial: bool
    run_id: str | None
    created_at: str


def _scoped(table: sa.Table, scope: Scope) -> list[sa.ColumnElement[bool]]:
    return [table.c.tenant_id == scope.tenant_id, table.c.project_id == scope.project_id]


class ConversationStore:
    """Reads and writes conversations through the `Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, scope: Scope, conversation_id: str) -> ConversationRecord | None:
        """One conversation, or None."""
        statement = sa.select(_CONVERSATIONS).where(
            *_scoped(_CONVERSATIONS, scope), _CONVERSATIONS.c.id == conversation_id
        )
        async with self._store.read() as session:
            row = (await session.execute(statement)).mappings().first()
        return _conversation(row) if row is not None else None

    async def create(
        self, scope: Scope, *, conversation_id: str, graph_id: str, agent_id: str, messages: Sequence[NewMessage]
    ) -> ConversationRecord:
        """Create a conversation with its first messages in one transaction.

        Raises:
            Conflict: the id is taken.
        """
        now = utc_now()
        row = {
            "tenant_id": scope.tenant_id,
            "project_id": scope.project_id,
            "id": conversation_id,
            "graph_id": graph_id,
            "active_agent_id": agent_id,
            "created_at": now,
            "updated_at": now,
        }
        async with self._store.write(scope.key) as session:
            exists = sa.select(_CONVERSATIONS.c.id).where(
                *_scoped(_CONVERSATIONS, scope), _CONVERSATIONS.c.id == conversation_id
            )
            if (await session.execute(exists)).first() is not None:
                msg = f"Conversation '{conversation_id}' already exists."
                raise Conflict(msg)
            await session.execute(sa.insert(_CONVERSATIONS).values(**row))
            await self._insert_messages(session, scope, conversation_id, messages, first_seq=1, now=now)
        return _conversation(row)

    async def append(
        self, scope: Scope, conversation_id: str, messages: Sequence[NewMessage], *, active_agent_id: str | None = None
    ) -> None:
        """Append messages (and optionally change the active agent) in one transaction."""
        now = utc_now()
        async with self._store.write(scope.key) as session:
            last = sa.select(sa.func.max(_MESSAGES.c.seq)).where(
                *_scoped(_MESSAGES, scope), _MESSAGES.c.conversation_id == conversation_id
            )
            first_seq = int((await session.execute(last)).scalar() or 0) + 1
            await self._insert_messages(session, scope, conversation_id, messages, first_seq=first_seq, now=now)
            changes: dict[str, Any] = {"updated_at": now}
            if active_agent_id is not None:
                changes["active_agent_id"] = active_agent_id
            await session.execute(
                sa.update(_CONVERSATIONS)
                .where(*_scoped(_CONVERSATIONS, scope), _CONVERSATIONS.c.id == conversation_id)
                .values(**changes)
            )

    async def messages(self, scope: Scope, conversation_id: str, *, last: int | None = None) -> list[MessageRecord]:
        """The conversation's messages in order (only the `last` N when given)."""
        statement = sa.select(_MESSAGES).where(
            *_scoped(_MESSAGES, scope), _MESSAGES.c.conversation_id == conversation_id
        )
        if last is not None:
            statement = statement.order_by(_MESSAGES.c.seq.desc()).limit(last)
        else:
            statement = statement.order_by(_MESSAGES.c.seq)
        async with self._store.read() as session:
            rows = [_message(row) for row in (await session.execute(statement)).mappings()]
        return sorted(rows, key=lambda m: m.seq) if last is not None else rows

    @staticmethod
    async def _insert_messages(
        session: Any, scope: Scope, conversation_id: str, messages: Sequence[NewMessage], *, first_seq: int, now: str
    ) -> None:
        if not messages:
            return
        rows = [
            {
                "tenant_id": scope.tenant_id,
                "project_id": scope.project_id,
                "id": new_id(),
                "conversation_id": conversation_id,
                "seq": first_seq + index,
                "role": message.role,
                "content": message.content,
                "agent_id": message.agent_id,
                "visibility": message.visibility,
                "message_type": message.message_type,
                "tool_calls": message.tool_calls,
                "tool_call_id": message.tool_call_id,
                "is_partial": message.is_partial,
                "run_id": message.run_id,
                "created_at": now,
            }
            for index, message in enumerate(messages)
        ]
        await session.execute(sa.insert(_MESSAGES), rows)


def _conversation(row: Any) -> ConversationRecord:
    return ConversationRecord(
        id=row["id"],
        graph_id=row["graph_id"],
        active_agent_id=row["active_agent_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _message(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row["id"],
        seq=row["seq"],
        role=row["role"],
        content=row["content"],
        agent_id=row["agent_id"],
        visibility=row["visibility"],
        message_type=row["message_type"],
        tool_calls=row["tool_calls"],
        tool_call_id=row["tool_call_id"],
        is_partial=bool(row["is_partial"]),
        run_id=row["run_id"],
        created_at=row["created_at"],
    )
