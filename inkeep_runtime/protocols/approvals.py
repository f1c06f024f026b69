"""How tool approvals look on the wire (the flow itself is `agent/approvals.py`).

* **AI SDK UI message stream** (`/api/chat`). A request is the SDK's own `tool-approval-request` chunk
  (`ai@6` `uiMessageChunkSchema`: `approvalId`, `toolCallId`, optional `approvalDescriptor`), sent after
  the call's `tool-input-start` / `tool-input-available`, as the SDK requires: it turns the tool part's
  state into `approval-requested`. The descriptor carries what a UI needs to ask and to answer:
  `{toolName, toolId, serverToolName, agentId, queryId, expiresAt, approveWith}`; `approveWith` names the
  run-API route to decide with (`POST .../tool-approvals/{toolCallId}`; the stream stays open meanwhile).
  A rejection or expiry is `tool-output-denied` (state `output-denied`); the tool error the model then
  reads is not sent as a tool output, so the part stays denied. Every decision is also a
  `data-operation` `approval_resolved` with the decision and reason; an approval is followed by the
  call's usual `tool-output-available`. Divergence: the SDK's own flow answers an approval by
  re-submitting the chat (`addToolApprovalResponse`); ours keeps the paused stream alive and resumes it,
  so a UI must decide through the route, not by re-submitting. AI SDK 5 clients do not know these chunk
  types and reject the stream: use approvals with AI SDK 6 or later.
* **OpenAI chat completions** with `x-emit-operations: true`: `data-operation` JSON in `delta.content`,
  `approval_requested` and `approval_resolved` (Inkeep's operation shape, `protocols.base`).
"""

from __future__ import annotations

from typing import Any

from inkeep_runtime.events import ToolApprovalRequested, ToolApprovalResolved

__all__ = ["APPROVE_ROUTE", "approval_operation", "approval_request_chunk"]

APPROVE_ROUTE = "/tenants/{tenantId}/projects/{projectId}/tool-approvals/{toolCallId}"
"""Where a client decides (run API, same API key as the chat)."""


def approval_request_chunk(event: ToolApprovalRequested) -> dict[str, Any]:
    """The AI SDK `tool-approval-request` chunk."""
    descriptor = {
        "toolName": event.tool_name,
        "toolId": event.tool_id,
        "serverToolName": event.server_tool_name,
        "agentId": event.agent_id,
        "queryId": event.run_id,
        "expiresAt": event.expires_at,
        "approveWith": f"POST {APPROVE_ROUTE}",
    }
    return {
        "type": "tool-approval-request",
        "approvalId": event.approval_id,
        "toolCallId": event.call_id,
        "approvalDescriptor": descriptor,
    }


def approval_operation(event: ToolApprovalRequested | ToolApprovalResolved) -> dict[str, Any]:
    """The Inkeep-style operation (`approval_requested` / `approval_resolved`)."""
    if isinstance(event, ToolApprovalRequested):
        data: dict[str, Any] = {
            "toolCallId": event.call_id,
            "approvalId": event.approval_id,
            "toolName": event.tool_name,
            "toolId": event.tool_id,
            "serverToolName": event.server_tool_name,
            "args": event.arguments,
            "queryId": event.run_id,
            "expiresAt": event.expires_at,
        }
        label = f"Approval needed: {event.tool_name}"
        return {"type": "approval_requested", "label": label, "details": {"agentId": event.agent_id, "data": data}}
    data = {
        "toolCallId": event.call_id,
        "approvalId": event.approval_id,
        "toolName": event.tool_name,
        "decision": event.decision,
        "reason": event.reason,
    }
    label = f"Tool call {event.decision}: {event.tool_name}"
    return {"type": "approval_resolved", "label": label, "details": {"agentId": event.agent_id, "data": data}}
