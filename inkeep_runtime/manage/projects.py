"""Projects: the tenant-level container of every other resource."""

from __future__ import annotations

from typing import Any

from inkeep_runtime.errors import Conflict, NotFound
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import list_envelope, reject_nulls
from inkeep_runtime.manage.schemas import (
    ApiModel,
    DataEnvelope,
    ListEnvelope,
    ListQuery,
    NonEmpty,
    RequestModel,
    ResourceId,
)
from inkeep_runtime.store.rows import KINDS, Rows, Scope

__all__ = ["ProjectCreate", "ProjectRead", "ProjectUpdate", "endpoints"]

BASE = "/tenants/{tenantId}/crud/projects"
_TAG = "Projects"


class ProjectCreate(RequestModel):
    """Body of `POST /projects`."""

    id: ResourceId
    name: NonEmpty
    description: NonEmpty


class ProjectUpdate(RequestModel):
    """Body of `PATCH /projects/{id}`."""

    name: NonEmpty | None = None
    description: NonEmpty | None = None


class ProjectRead(ApiModel):
    """A project as returned."""

    id: str
    name: str
    description: str
    created_at: str
    updated_at: str


def _render(row: dict[str, Any]) -> dict[str, Any]:
    return ProjectRead.model_validate(row).model_dump(mode="json")


def _not_found(tenant_id: str, project_id: str) -> NotFound:
    return NotFound(f"Project '{project_id}' does not exist in tenant '{tenant_id}'.")


async def list_projects(call: Call) -> Any:
    """List a tenant's projects."""
    scope = Scope(call.path["tenantId"])
    async with call.services.store.read() as session:
        rows, total = await Rows(session).page(
            "projects", scope, page=call.query.page, limit=call.query.limit, filters={}
        )
    return list_envelope([_render(r) for r in rows], page=call.query.page, limit=call.query.limit, total=total)


async def create_project(call: Call) -> Any:
    """Create a project."""
    scope = Scope(call.path["tenantId"])
    async with call.services.store.write(scope.key) as session:
        row = await Rows(session).insert("projects", scope, call.body.values(), label="Project")
    return {"data": _render(row)}


async def get_project(call: Call) -> Any:
    """Get one project."""
    scope = Scope(call.path["tenantId"])
    async with call.services.store.read() as session:
        row = await Rows(session).get("projects", scope, call.path["id"])
    if row is None:
        raise _not_found(scope.tenant_id, call.path["id"])
    return {"data": _render(row)}


async def update_project(call: Call) -> Any:
    """Change a project's name or description."""
    scope = Scope(call.path["tenantId"])
    changes = call.body.changes()
    reject_nulls(ProjectCreate, changes)
    async with call.services.store.write(scope.key) as session:
        rows = Rows(session)
        row = await rows.update("projects", scope, call.path["id"], changes, label="Project") if changes else None
        row = row or await rows.get("projects", scope, call.path["id"])
    if row is None:
        raise _not_found(scope.tenant_id, call.path["id"])
    return {"data": _render(row)}


async def delete_project(call: Call) -> Any:
    """Delete an empty project; refuse (409) while it still holds resources."""
    tenant_id, project_id = call.path["tenantId"], call.path["id"]
    project = Scope(tenant_id, project_id)
    async with call.services.store.write(Scope(tenant_id, project_id).key) as session:
        rows = Rows(session)
        if await rows.get("projects", Scope(tenant_id), project_id) is None:
            raise _not_found(tenant_id, project_id)
        held = {kind: await rows.count(kind, project) for kind in KINDS if kind != "projects"}
        held = {kind: count for kind, count in held.items() if count}
        if held:
            listing = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in sorted(held.items()))
            msg = f"Project '{project_id}' still has resources ({listing}); delete them first."
            raise Conflict(msg, resources=held)
        await rows.delete("projects", Scope(tenant_id), label=f"Project '{project_id}'", id=project_id)
    return None


def endpoints() -> list[Endpoint]:
    """The project routes."""
    return [
        Endpoint(
            method="GET",
            path=BASE,
            summary="List Projects",
            handler=list_projects,
            tag=_TAG,
            query=ListQuery,
            response=ListEnvelope[ProjectRead],
        ),
        Endpoint(
            method="POST",
            path=BASE,
            summary="Create Project",
            handler=create_project,
            tag=_TAG,
            body=ProjectCreate,
            response=DataEnvelope[ProjectRead],
            status=201,
            errors=(400, 401, 409, 413),
        ),
        Endpoint(
            method="GET",
            path=f"{BASE}/{{id}}",
            summary="Get Project",
            handler=get_project,
            tag=_TAG,
            response=DataEnvelope[ProjectRead],
        ),
        Endpoint(
            method="PATCH",
            path=f"{BASE}/{{id}}",
            summary="Update Project",
            handler=update_project,
            tag=_TAG,
            body=ProjectUpdate,
            response=DataEnvelope[ProjectRead],
            errors=(400, 401, 404, 413),
        ),
        Endpoint(
            method="DELETE",
            path=f"{BASE}/{{id}}",
            summary="Delete Project",
            handler=delete_project,
            tag=_TAG,
            status=204,
            errors=(401, 404, 409),
        ),
    ]
