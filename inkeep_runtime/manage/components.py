"""Data components and artifact components: structured UI an agent can emit."""

from __future__ import annotations

from typing import Annotated, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import AfterValidator

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage.crud import Resource, crud_endpoints
from inkeep_runtime.manage.schemas import ApiModel, RequestModel, ResourceId

__all__ = [
    "ARTIFACT_COMPONENTS",
    "DATA_COMPONENTS",
    "ArtifactComponentCreate",
    "ArtifactComponentRead",
    "ArtifactComponentUpdate",
    "DataComponentCreate",
    "DataComponentRead",
    "DataComponentUpdate",
    "JsonSchema",
    "endpoints",
]


def _check_schema(value: dict[str, Any]) -> dict[str, Any]:
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.absolute_path)
        msg = f"Not a valid JSON Schema (at '{path or '/'}'): {exc.message}"
        raise ValueError(msg) from None
    return value


JsonSchema = Annotated[dict[str, Any], AfterValidator(_check_schema)]
"""A JSON object that is a valid JSON Schema (draft 2020-12)."""


class DataComponentCreate(RequestModel):
    """Body of `POST /data-components`."""

    id: ResourceId
    name: str
    description: str
    props: JsonSchema | None = None


class DataComponentUpdate(RequestModel):
    """Body of `PUT /data-components/{id}`."""

    id: ResourceId | None = None
    name: str | None = None
    description: str | None = None
    props: JsonSchema | None = None


class DataComponentRead(ApiModel):
    """A data component as returned."""

    id: str
    name: str
    description: str
    props: dict[str, Any] | None = None
    created_at: str
    updated_at: str


class ArtifactComponentCreate(RequestModel):
    """Body of `POST /artifact-components` (an id is generated when none is given)."""

    id: ResourceId | None = None
    name: str
    description: str
    summary_props: JsonSchema | None = None
    full_props: JsonSchema | None = None


class ArtifactComponentUpdate(RequestModel):
    """Body of `PUT /artifact-components/{id}`."""

    id: ResourceId | None = None
    name: str | None = None
    description: str | None = None
    summary_props: JsonSchema | None = None
    full_props: JsonSchema | None = None


class ArtifactComponentRead(ApiModel):
    """An artifact component as returned."""

    id: str
    name: str
    description: str
    summary_props: dict[str, Any] | None = None
    full_props: dict[str, Any] | None = None
    created_at: str
    updated_at: str


DATA_COMPONENTS = Resource(
    path="data-components",
    kind="data_components",
    label="Data component",
    tag="Data Components",
    create=DataComponentCreate,
    update=DataComponentUpdate,
    read=DataComponentRead,
)
ARTIFACT_COMPONENTS = Resource(
    path="artifact-components",
    kind="artifact_components",
    label="Artifact component",
    tag="Artifact Components",
    create=ArtifactComponentCreate,
    update=ArtifactComponentUpdate,
    read=ArtifactComponentRead,
)


def endpoints() -> list[Endpoint]:
    """The data- and artifact-component routes."""
    return [*crud_endpoints(ARTIFACT_COMPONENTS), *crud_endpoints(DATA_COMPONENTS)]
