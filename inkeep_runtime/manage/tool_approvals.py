"""#12 `GET /tenants/{t}/crud/projects/{p}/tool-approvals`: the approvals of a project (caylex.md §4.3).

Newest first, keyset-paged on `(requestedAt, id)` with an opaque `cursor`, filtered by `status`, `graphId`
and `conversationId`. Pending approvals past their expiry are marked `expired` before listing.
`runWaiting` says whether a stream still waits for the decision; `agent/approvals.py` says what a
decision does when none does any more. Deciding is the run API's `POST .../tool-approvals/{toolCallId}`
(`http/tool_approvals.py`), authorised by the graph's API key, not the admin token.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import Field

from inkeep_runtime.errors import FieldError, InvalidRequest
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, project_scope, require_project
from inkeep_runtime.manage.schemas import ApiModel
from inkeep_runtime.store.approvals import ApprovalRecord
from inkeep_runtime.store.rows import Rows, utc_now

__all__ = ["ApprovalList", "ApprovalQuery", "ApprovalRead", "endpoints"]


class ApprovalQuery(ApiModel):
    """Filters of #12."""

    status: Literal["pending", "approved", "rejected", "expired"] | None = None
    graph_id: str | None = None
    conversation_id: str | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = None


class ApprovalRead(ApiModel):
    """One approval as listed."""

    tool_call_id: str
    approval_id: str
    query_id: str
    graph_id: str
    conversation_id: str
    agent_id: str
    tool_id: str
    tool_name: str
    arguments: dict[str, Any]
    status: str
    reason: str | None = None
    requested_at: str
    expires_at: str
    decided_at: str | None = None
    run_waiting: bool
    """A stream still waits for this decision (its lease is live)."""
    resumed_by: str | None = None


class CursorPagination(ApiModel):
    """Keyset pagination."""

    limit: int
    next_cursor: str | None
    has_next: bool


class ApprovalList(ApiModel):
    """Body of #12."""

    data: list[ApprovalRead]
    pagination: CursorPagination


# --- approvals --------------------------------------------------------------------------------------------------


def _cursor(record: ApprovalRecord) -> str:
    return base64.urlsafe_b64encode(f"{record.requested_at}|{record.id}".encode()).decode()


def _after(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    try:
        requested_at, _, approval_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        requested_at = approval_id = ""
    if not requested_at or not approval_id:
        msg = "Invalid query parameters: the cursor is not one this API returned."
        raise InvalidRequest(msg, [FieldError(pointer="query.cursor", message="Use pagination.nextCursor as given.")])
    return requested_at, approval_id


def _approval(record: ApprovalRecord, now: str) -> dict[str, Any]:
    item = ApprovalRead(
        tool_call_id=record.tool_call_id,
        approval_id=record.id,
        query_id=record.run_id,
        graph_id=record.graph_id,
        conversation_id=record.conversation_id,
        agent_id=record.agent_id,
        tool_id=record.tool_id,
        tool_name=record.tool_name,
        arguments=record.arguments,
        status=record.status,
        reason=record.reason,
        requested_at=record.requested_at,
        expires_at=record.expires_at,
        decided_at=record.decided_at,
        run_waiting=record.status == "pending" and record.resumed_by is None and record.lease_until > now,
        resumed_by=record.resumed_by,
    )
    return item.model_dump(mode="json")


async def list_approvals(call: Call) -> Any:
    """#12: approvals newest first (overdue pending ones are marked expired first)."""
    scope = project_scope(call)
    query: ApprovalQuery = call.query
    after = _after(query.cursor)
    async with call.services.store.read() as session:
        await require_project(Rows(session), scope)
    approvals = call.services.approvals.rows
    await approvals.expire_overdue(scope)
    found = await approvals.page(
        scope,
        limit=query.limit + 1,
        after=after,
        status=query.status,
        graph_id=query.graph_id,
        conversation_id=query.conversation_id,
    )
    page, has_next = found[: query.limit], len(found) > query.limit
    now = utc_now()
    pagination = {"limit": query.limit, "nextCursor": _cursor(page[-1]) if has_next else None, "hasNext": has_next}
    return {"data": [_approval(record, now) for record in page], "pagination": pagination}


def endpoints() -> list[Endpoint]:
    """The approval list route."""
    return [
        Endpoint(
            method="GET",
            path=f"{PROJECT_PREFIX}/tool-approvals",
            summary="List Tool Approvals",
            handler=list_approvals,
            tag="Tool Permissions",
            query=ApprovalQuery,
            response=ApprovalList,
        ),
    ]
