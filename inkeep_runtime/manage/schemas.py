"""Shared pieces of the CRUD request and response models.

Models use snake_case attributes (the column names) with camelCase aliases (the wire names). Request
models forbid unknown fields, so a misspelt field is a 400 that names it instead of being dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from inkeep_runtime.ids import ID_PATTERN

__all__ = [
    "ApiModel",
    "DataEnvelope",
    "HttpUrl",
    "ListEnvelope",
    "ListQuery",
    "NonEmpty",
    "Pagination",
    "RequestModel",
    "ResourceId",
    "Timestamps",
]

ResourceId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=255)]
"""A URL-safe resource id: `^[a-zA-Z0-9_-]+$`, 1 to 255 characters."""
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        msg = f"Expected an absolute http(s) URL, got {value!r}."
        raise ValueError(msg)
    return value


HttpUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_check_http_url)]
"""An absolute http(s) URL, kept exactly as written."""

T = TypeVar("T")


class ApiModel(BaseModel):
    """Base of every wire model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class RequestModel(ApiModel):
    """Base of request bodies: unknown fields are errors; server-managed timestamps are ignored."""

    model_config = ConfigDict(extra="forbid")

    created_at: str | None = Field(default=None, exclude=True, description="Ignored; set by the server.")
    updated_at: str | None = Field(default=None, exclude=True, description="Ignored; set by the server.")

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by column name (server-managed ones left out)."""
        # Nested JSON is stored in its wire form (camelCase) so it reads back exactly as it was sent.
        wire = self.model_dump(mode="json", exclude_unset=True, by_alias=True, exclude={"created_at", "updated_at"})
        by_alias = {(info.alias or name): name for name, info in type(self).model_fields.items()}
        return {by_alias.get(key, key): value for key, value in wire.items()}

    def values(self) -> dict[str, Any]:
        """Every field by column name: what the client sent plus the defaults of what it left out."""
        found = self.changes()
        for name, info in type(self).model_fields.items():
            if name not in found and name not in {"created_at", "updated_at"} and not info.exclude:
                found[name] = info.get_default(call_default_factory=True)
        return found


class Timestamps(ApiModel):
    """Creation and last-update times (ISO-8601 UTC)."""

    created_at: str
    updated_at: str


class Pagination(ApiModel):
    """Where a page sits in the whole list."""

    page: int
    limit: int
    total: int
    pages: int


class DataEnvelope(ApiModel, Generic[T]):
    """`{"data": ...}`."""

    data: T


class ListEnvelope(ApiModel, Generic[T]):
    """`{"data": [...], "pagination": {...}}`."""

    data: list[T]
    pagination: Pagination


class ListQuery(ApiModel):
    """Pagination parameters shared by every list route."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, description="Page number, from 1.")
    limit: int = Field(default=10, ge=1, le=100, description="Items per page, 1 to 100.")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data
