"""API keys: graph-scoped credentials for the run API.

The full key is returned once, by `POST /api-keys`; only a salted scrypt hash is stored and `keyHash` is
never part of any response. `PUT /api-keys/{id}` changes `name` and `expiresAt` only. The other fields
the API document lists for it are accepted for round-tripping a `GET` body: `lastUsedAt` is ignored like
`createdAt`/`updatedAt` (the server keeps it), while `id`, `graphId`, `publicId` and `keyPrefix` must equal
the stored values and are refused with a 400 naming the field otherwise (a key cannot move to another
graph; create a new one instead).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
from pydantic import AfterValidator, Field

from inkeep_runtime.errors import FieldError, InvalidRequest, NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.ids import new_id
from inkeep_runtime.keys import KEY_PREFIX_LENGTH, generate_api_key, hash_api_key
from inkeep_runtime.manage.crud import (
    PROJECT_PREFIX,
    Reference,
    check_references,
    list_envelope,
    project_scope,
    require_project,
)
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope, ListEnvelope, ListQuery, RequestModel, ResourceId
from inkeep_runtime.store.rows import Rows, Scope

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyQuery",
    "ApiKeyRead",
    "ApiKeyUpdate",
    "FutureDateTime",
    "endpoints",
]

BASE = f"{PROJECT_PREFIX}/api-keys"
_TAG = "API Keys"
_LABEL = "API key"
_GRAPH = Reference("graph_id", "agent_graphs", "Agent graph")


def _future_utc(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        msg = f"Expected an ISO-8601 date-time such as '2030-01-01T00:00:00Z', got {value!r}."
        raise ValueError(msg) from None
    if moment.tzinfo is None:
        msg = f"Expected a date-time with a time zone (e.g. a trailing 'Z'), got {value!r}."
        raise ValueError(msg)
    moment = moment.astimezone(UTC)
    if moment <= datetime.now(UTC):
        msg = f"Expected a date-time in the future, got {value!r}."
        raise ValueError(msg)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


FutureDateTime = Annotated[
    str,
    AfterValidator(_future_utc),
    Field(json_schema_extra={"format": "date-time"}, description="ISO-8601 date-time in the future; stored in UTC."),
]
"""An ISO-8601 date-time with a time zone, in the future, normalised to `YYYY-MM-DDTHH:MM:SS.mmmZ`."""


class ApiKeyCreate(RequestModel):
    """Body of `POST /api-keys`."""

    graph_id: ResourceId
    name: str | None = Field(default=None, max_length=255)
    expires_at: FutureDateTime | None = None


class ApiKeyUpdate(RequestModel):
    """Body of `PUT /api-keys/{id}`: only `name` and `expiresAt` change (see the module docstring)."""

    name: str | None = Field(default=None, max_length=255)
    expires_at: FutureDateTime | None = None
    id: ResourceId | None = Field(default=None, description="Must equal the key's id.")
    graph_id: ResourceId | None = Field(default=None, description="Must equal the key's graph; keys cannot move.")
    public_id: str | None = Field(default=None, description="Must equal the key's public id.")
    key_prefix: str | None = Field(default=None, description="Must equal the key's prefix.")
    last_used_at: str | None = Field(default=None, exclude=True, description="Ignored; set by the server.")


class ApiKeyRead(ApiModel):
    """An API key as returned (never the key itself nor its hash)."""

    id: str
    graph_id: str
    public_id: str
    key_prefix: str
    name: str | None = None
    last_used_at: str | None = None
    expires_at: str | None = None
    created_at: str
    updated_at: str


class ApiKeyCreated(ApiModel):
    """`data` of `POST /api-keys`: the stored record and the full key, shown only this once."""

    api_key: ApiKeyRead
    key: str


class ApiKeyQuery(ListQuery):
    """Filters of `GET /api-keys`."""

    graph_id: str | None = Field(default=None, description="Only keys of this graph.")


_FIXED = ("id", "graph_id", "public_id", "key_prefix")


def _render(row: dict[str, Any]) -> dict[str, Any]:
    return ApiKeyRead.model_validate(row).model_dump(mode="json")


def _not_found(scope: Scope, key_id: str) -> NotFound:
    return NotFound(f"{_LABEL} '{key_id}' does not exist in project '{scope.project_id}'.")


async def list_keys(call: Call) -> Any:
    """List a project's API keys, optionally of one graph."""
    scope = project_scope(call)
    query: ApiKeyQuery = call.query
    async with call.services.store.read() as session:
        rows = Rows(session)
        await require_project(rows, scope)
        found, total = await rows.page(
            "api_keys", scope, page=query.page, limit=query.limit, filters={"graph_id": query.graph_id}
        )
    return list_envelope([_render(row) for row in found], page=query.page, limit=query.limit, total=total)


async def create_key(call: Call) -> Any:
    """Create a key for a graph; the response is the only place the full key ever appears."""
    scope = project_scope(call)
    values = call.body.values()
    key, public_id = generate_api_key()
    key_hash = await anyio.to_thread.run_sync(hash_api_key, key)
    values.update(id=new_id(), public_id=public_id, key_hash=key_hash, key_prefix=key[:KEY_PREFIX_LENGTH])
    async with call.services.store.write(scope.key) as session:
        rows = Rows(session)
        await require_project(rows, scope)
        await check_references(rows, scope, (_GRAPH,), values)
        row = await rows.insert("api_keys", scope, values, label=_LABEL)
    call.services.changed(scope)
    return {"data": {"apiKey": _render(row), "key": key}}


async def get_key(call: Call) -> Any:
    """Get one key's record (never the key)."""
    scope = project_scope(call)
    async with call.services.store.read() as session:
        row = await Rows(session).get("api_keys", scope, call.path["id"])
    if row is None:
        raise _not_found(scope, call.path["id"])
    return {"data": _render(row)}


async def update_key(call: Call) -> Any:
    """Change a key's name or expiry date."""
    scope = project_scope(call)
    key_id = call.path["id"]
    changes = call.body.changes()
    async with call.services.store.write(scope.key) as session:
        rows = Rows(session)
        old = await rows.get("api_keys", scope, key_id)
        if old is None:
            raise _not_found(scope, key_id)
        errors = [
            FieldError(
                pointer=f"/{ApiKeyUpdate.model_fields[name].alias}",
                message=(
                    f"{ApiKeyUpdate.model_fields[name].alias} cannot be changed (it is {old[name]!r}); "
                    "only name and expiresAt can."
                ),
            )
            for name in _FIXED
            if name in changes and changes[name] != old[name]
        ]
        if errors:
            raise InvalidRequest(" ".join(error.message for error in errors), errors)
        editable = {name: value for name, value in changes.items() if name in {"name", "expires_at"}}
        row = await rows.update("api_keys", scope, key_id, editable, label=_LABEL) if editable else old
    call.services.verifier.forget_key(key_id)
    call.services.changed(scope)
    return {"data": _render(row or old)}


async def delete_key(call: Call) -> Any:
    """Delete a key; it stops working at once here, and within the verifier's cache TTL elsewhere."""
    scope = project_scope(call)
    key_id = call.path["id"]
    async with call.services.store.write(scope.key) as session:
        deleted = await Rows(session).delete("api_keys", scope, label=f"{_LABEL} '{key_id}'", id=key_id)
    if not deleted:
        raise _not_found(scope, key_id)
    call.services.verifier.forget_key(key_id)
    call.services.changed(scope)
    return None


def endpoints() -> list[Endpoint]:
    """The API-key routes."""
    return [
        Endpoint(
            method="GET",
            path=BASE,
            summary="List API Keys",
            handler=list_keys,
            tag=_TAG,
            query=ApiKeyQuery,
            response=ListEnvelope[ApiKeyRead],
        ),
        Endpoint(
            method="POST",
            path=BASE,
            summary="Create API Key",
            handler=create_key,
            tag=_TAG,
            body=ApiKeyCreate,
            response=DataEnvelope[ApiKeyCreated],
            status=201,
            errors=(400, 401, 404, 413),
            description="Returns the full key; it is shown only this once.",
        ),
        Endpoint(
            method="GET",
            path=f"{BASE}/{{id}}",
            summary="Get API Key",
            handler=get_key,
            tag=_TAG,
            response=DataEnvelope[ApiKeyRead],
        ),
        Endpoint(
            method="PUT",
            path=f"{BASE}/{{id}}",
            summary="Update API Key",
            handler=update_key,
            tag=_TAG,
            body=ApiKeyUpdate,
            response=DataEnvelope[ApiKeyRead],
            errors=(400, 401, 404, 413),
        ),
        Endpoint(
            method="DELETE",
            path=f"{BASE}/{{id}}",
            summary="Delete API Key",
            handler=delete_key,
            tag=_TAG,
            status=204,
            errors=(401, 404),
        ),
    ]
