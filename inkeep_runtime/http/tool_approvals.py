"""`POST /tenants/{t}/projects/{p}/tool-approvals/{toolCallId}`: approve or reject a paused tool call (run API).

Admission follows the chat endpoints (`run_auth`): the API key first, then the body. The key must belong
to the graph the approval belongs to; a caller without a valid key of this project learns nothing, not
even whether the call exists (401 before 404). `{toolCallId}` is the model's tool-call id as streamed
(`toolCallId` of the AI SDK part or the `data-operation`); the approval id works too. Answers:

* 200 `{data: {toolCallId, approvalId, queryId, status, decidedAt, reason, resumedBy}}`: the waiting
  stream continues (`resumedBy: run`); when no stream waits any more an approved call has already run
  and its result was added to the conversation (`resumedBy: detached`; see `agent/approvals.py`);
* 404 unknown call, 409 already decided or expired (`approvalStatus` says which), 401 bad key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from inkeep_runtime.errors import FieldError, InvalidRequest, NotFound, Unauthorized
from inkeep_runtime.http.auth import INVALID_FORMAT, INVALID_KEY, bearer_token
from inkeep_runtime.http.endpoint import Call, Endpoint, read_json_body, validation_errors
from inkeep_runtime.keys import parse_api_key
from inkeep_runtime.store.approvals import ApprovalRecord
from inkeep_runtime.store.rows import Rows, Scope

if TYPE_CHECKING:
    from inkeep_runtime.app import Services

__all__ = ["APPROVAL_PATH", "ApprovalDecision", "ApprovalOutcome", "tool_approval_endpoints"]

APPROVAL_PATH = "/tenants/{tenantId}/projects/{projectId}/tool-approvals/{toolCallId}"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class ApprovalDecision(_Model):
    """Body: the decision and, optionally, why (the model reads the reason of a rejection)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=1000)


class ApprovalOutcome(_Model):
    """The approval after the decision."""

    tool_call_id: str
    approval_id: str
    query_id: str
    status: str
    decided_at: str | None
    reason: str | None = None
    resumed_by: str | None = None


class ApprovalOutcomeEnvelope(_Model):
    """`{"data": ...}`."""

    data: ApprovalOutcome


async def _graph_of_key(services: Services, scope: Scope, token: str) -> str:
    """The graph of the project's API key `token` names (its secret is checked by the verifier next)."""
    public_id = parse_api_key(token)
    if public_id is None:
        raise Unauthorized(INVALID_FORMAT)
    async with services.store.read() as session:
        found = await Rows(session).find("api_keys", scope, public_id=public_id)
    if not found:
        raise Unauthorized(INVALID_KEY)
    return str(found[0]["graph_id"])


async def _authorize(call: Call, scope: Scope, key: str) -> str | None:
    """The graph the caller may decide for (None in `--dev` mode).

    Raises:
        Unauthorized: no key, or not a live key of the approval's graph (or of this project at all).
        NotFound: a valid key of the project, but no such approval in its graph.
    """
    services: Services = call.services
    if services.settings.dev:
        return None
    token = bearer_token(call.request.headers.get("authorization"))
    assert services.approvals is not None
    record = await services.approvals.rows.find(scope, key)
    graph_id = record.graph_id if record is not None else await _graph_of_key(services, scope, token)
    assert scope.project_id is not None
    await services.verifier.verify(token, tenant_id=scope.tenant_id, project_id=scope.project_id, graph_id=graph_id)
    if record is None:
        raise _missing(scope, key)
    return graph_id


def _missing(scope: Scope, key: str) -> NotFound:
    return NotFound(f"There is no tool approval '{key}' in project '{scope.project_id}'.")


async def _body(call: Call) -> ApprovalDecision:
    data = await read_json_body(call.request, call.services.settings.max_body_bytes)
    try:
        return ApprovalDecision.model_validate(data)
    except ValidationError as exc:
        errors: list[FieldError] = validation_errors(exc)
        msg = f"Invalid request body: {len(errors)} problem(s) at {', '.join(sorted({e.pointer for e in errors}))}."
        raise InvalidRequest(msg, errors) from exc


def _outcome(record: ApprovalRecord) -> dict[str, Any]:
    outcome = ApprovalOutcome(
        tool_call_id=record.tool_call_id,
        approval_id=record.id,
        query_id=record.run_id,
        status=record.status,
        decided_at=record.decided_at,
        reason=record.reason,
        resumed_by=record.resumed_by,
    )
    return outcome.model_dump(mode="json")


async def decide_approval(call: Call) -> Any:
    """Approve or reject one pending tool call."""
    scope = Scope(call.path["tenantId"], call.path["projectId"])
    key = call.path["toolCallId"]
    graph_id = await _authorize(call, scope, key)
    body = await _body(call)
    broker = call.services.approvals
    record = await broker.decide(
        scope, key, is_approved=body.decision == "approve", reason=body.reason, graph_id=graph_id
    )
    return {"data": _outcome(record)}


def tool_approval_endpoints() -> list[Endpoint]:
    """The run-API approval route (the body is read by the handler, after the API key is checked)."""
    return [
        Endpoint(
            method="POST",
            path=APPROVAL_PATH,
            summary="Approve or Reject a Tool Call",
            description=(
                "Decide a tool call that waits for approval (`tool-approval-request` on `/api/chat`, "
                "`approval_requested` operation on `/v1/chat/completions`), with `Authorization: Bearer <API key "
                "of the graph>`. The paused stream continues with the tool result (approve) or without the call "
                "(reject). 409 when it was already decided or expired."
            ),
            body_schema=ApprovalDecision,
            handler=decide_approval,
            tag="Chat",
            response=ApprovalOutcomeEnvelope,
            errors=(400, 401, 404, 409, 413),
        )
    ]
