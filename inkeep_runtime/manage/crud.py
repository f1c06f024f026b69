"""Generic CRUD for the resources that are plain rows under a project.

A `Resource` describes one family (path, table, models, filters, references); `crud_endpoints` turns
it into list/create/get/update/delete endpoints with the documented envelopes. References are checked
inside the write transaction, so a relation can never point at a row that does not exist.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import BaseModel

from inkeep_runtime.errors import FieldError, InvalidRequest, NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.ids import new_id
from inkeep_runtime.manage.schemas import DataEnvelope, ListEnvelope, ListQuery
from inkeep_runtime.secrets import restore
from inkeep_runtime.store.rows import Rows, Scope

__all__ = [
    "PROJECT_PREFIX",
    "Reference",
    "Resource",
    "check_references",
    "crud_endpoints",
    "list_envelope",
    "project_scope",
    "reject_nulls",
    "require_project",
]

PROJECT_PREFIX = "/tenants/{tenantId}/crud/projects/{projectId}"

Validator = Callable[[Rows, Scope, dict[str, Any], dict[str, Any] | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reference:
    """A column that must name an existing row of another table in the same project."""

    column: str
    kind: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """One family of rows managed through the generic endpoints."""

    path: str
    kind: str
    label: str
    tag: str
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    query: type[ListQuery] = ListQuery
    update_method: str = "PUT"
    references: tuple[Reference, ...] = ()
    validate: Validator | None = None
    """Extra checks inside the write transaction: (rows, scope, merged row, old row or None)."""
    to_row: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda values: values)
    """Turn validated request fields into column values."""


def project_scope(call: Call) -> Scope:
    """The tenant/project scope named by the path."""
    return Scope(call.path["tenantId"], call.path["projectId"])


async def require_project(rows: Rows, scope: Scope) -> None:
    """Raise NotFound unless the scope's project exists."""
    assert scope.project_id is not None
    if await rows.get("projects", Scope(scope.tenant_id), scope.project_id) is None:
        msg = f"Project '{scope.project_id}' does not exist in tenant '{scope.tenant_id}'."
        raise NotFound(msg)


async def check_references(rows: Rows, scope: Scope, references: tuple[Reference, ...], row: Mapping[str, Any]) -> None:
    """Raise InvalidRequest naming each reference that points at nothing."""
    errors: list[FieldError] = []
    for reference in references:
        value = row.get(reference.column)
        if value is None:
            continue
        if await rows.get(reference.kind, scope, value) is None:
            name = _camel(reference.column)
            message = f"{reference.label} '{value}' does not exist in project '{scope.project_id}'."
            errors.append(FieldError(pointer=f"/{name}", message=message))
    if errors:
        raise InvalidRequest(" ".join(e.message for e in errors), errors)


def reject_nulls(create: type[BaseModel], changes: Mapping[str, Any]) -> None:
    """Raise InvalidRequest naming each change that sets to null a field the create model requires a value for.

    Update models make every field optional, so without this a `null` for a required column would reach the
    database and fail there.
    """
    errors: list[FieldError] = []
    for name, value in changes.items():
        info = create.model_fields.get(name)
        if value is None and info is not None and type(None) not in get_args(info.annotation):
            message = f"{_camel(name)} cannot be null; omit it to keep the current value."
            errors.append(FieldError(pointer=f"/{_camel(name)}", message=message))
    if errors:
        raise InvalidRequest(" ".join(e.message for e in errors), errors)


def list_envelope(items: list[Any], *, page: int, limit: int, total: int) -> dict[str, Any]:
    """The documented list envelope."""
    pages = math.ceil(total / limit) if total else 0
    return {"data": items, "pagination": {"page": page, "limit": limit, "total": total, "pages": pages}}


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def _render(resource: Resource, row: Mapping[str, Any]) -> dict[str, Any]:
    return resource.read.model_validate(dict(row)).model_dump(mode="json", by_alias=True)


def _filters(query: BaseModel) -> dict[str, Any]:
    values = query.model_dump(exclude={"page", "limit"}, by_alias=False)
    return {key: value for key, value in values.items() if value is not None}


def _changes(resource: Resource, body: Any, row_id: str) -> dict[str, Any]:
    """The column changes of an update body, refusing a changed id and nulls for required fields."""
    changes = resource.to_row(body.changes())
    if changes.get("id", row_id) != row_id:
        msg = f"Body id '{changes['id']}' does not match the id '{row_id}' in the path; ids cannot be changed."
        raise InvalidRequest(msg, [FieldError(pointer="/id", message=msg)])
    changes.pop("id", None)
    reject_nulls(resource.create, changes)
    return changes


def crud_endpoints(resource: Resource) -> list[Endpoint]:
    """List, create, get, update and delete endpoints for `resource`."""
    base = f"{PROJECT_PREFIX}/{resource.path}"
    label = resource.label

    async def list_rows(call: Call) -> Any:
        scope = project_scope(call)
        async with call.services.store.read() as session:
            rows = Rows(session)
            await require_project(rows, scope)
            found, total = await rows.page(
                resource.kind, scope, page=call.query.page, limit=call.query.limit, filters=_filters(call.query)
            )
        items = [_render(resource, row) for row in found]
        return list_envelope(items, page=call.query.page, limit=call.query.limit, total=total)

    async def create_row(call: Call) -> Any:
        scope = project_scope(call)
        values = resource.to_row(call.body.values())
        values.setdefault("id", None)
        if values["id"] is None:
            values["id"] = new_id()
        async with call.services.store.write(scope.key) as session:
            rows = Rows(session)
            await require_project(rows, scope)
            await check_references(rows, scope, resource.references, values)
            if resource.validate is not None:
                await resource.validate(rows, scope, values, None)
            row = await rows.insert(resource.kind, scope, values, label=label)
        call.services.changed(scope)
        return {"data": _render(resource, row)}

    async def get_row(call: Call) -> Any:
        scope = project_scope(call)
        async with call.services.store.read() as session:
            row = await Rows(session).get(resource.kind, scope, call.path["id"])
        if row is None:
            msg = f"{label} '{call.path['id']}' does not exist in project '{scope.project_id}'."
            raise NotFound(msg)
        return {"data": _render(resource, row)}

    async def update_row(call: Call) -> Any:
        scope = project_scope(call)
        row_id = call.path["id"]
        changes = _changes(resource, call.body, row_id)
        async with call.services.store.write(scope.key) as session:
            rows = Rows(session)
            old = await rows.get(resource.kind, scope, row_id)
            if old is None:
                msg = f"{label} '{row_id}' does not exist in project '{scope.project_id}'."
                raise NotFound(msg)
            changes = restore(changes, old)  # a redacted secret sent back means "keep the stored one"
            merged = {**old, **changes}
            await check_references(rows, scope, resource.references, changes)
            if resource.validate is not None:
                await resource.validate(rows, scope, merged, old)
            row = await rows.update(resource.kind, scope, row_id, changes, label=label) if changes else old
        call.services.changed(scope)
        return {"data": _render(resource, row or merged)}

    async def delete_row(call: Call) -> Any:
        scope = project_scope(call)
        async with call.services.store.write(scope.key) as session:
            deleted = await Rows(session).delete(
                resource.kind, scope, label=f"{label} '{call.path['id']}'", id=call.path["id"]
            )
        if not deleted:
            msg = f"{label} '{call.path['id']}' does not exist in project '{scope.project_id}'."
            raise NotFound(msg)
        call.services.changed(scope)
        return None

    one: Any = DataEnvelope[resource.read]  # type: ignore[name-defined]
    many: Any = ListEnvelope[resource.read]  # type: ignore[name-defined]
    return [
        Endpoint(
            method="GET",
            path=base,
            summary=f"List {label}s",
            handler=list_rows,
            tag=resource.tag,
            query=resource.query,
            response=many,
        ),
        Endpoint(
            method="POST",
            path=base,
            summary=f"Create {label}",
            handler=create_row,
            tag=resource.tag,
            body=resource.create,
            response=one,
            status=201,
            errors=(400, 401, 404, 409, 413),
        ),
        Endpoint(
            method="GET",
            path=f"{base}/{{id}}",
            summary=f"Get {label}",
            handler=get_row,
            tag=resource.tag,
            response=one,
        ),
        Endpoint(
            method=resource.update_method,
            path=f"{base}/{{id}}",
            summary=f"Update {label}",
            handler=update_row,
            tag=resource.tag,
            body=resource.update,
            response=one,
            errors=(400, 401, 404, 409, 413),
        ),
        Endpoint(
            method="DELETE",
            path=f"{base}/{{id}}",
            summary=f"Delete {label}",
            handler=delete_row,
            tag=resource.tag,
            status=204,
            errors=(401, 404, 409),
        ),
    ]
