"""Credential references: where a secret lives, never the secret itself."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator

from inkeep_runtime.http.endpoint import Endpoint
from inkeep_runtime.manage.crud import Resource, crud_endpoints
from inkeep_runtime.manage.schemas import ApiModel, RequestModel, ResourceId

__all__ = ["CREDENTIALS", "CredentialCreate", "CredentialRead", "CredentialUpdate", "endpoints"]

CredentialType = Literal["memory", "env", "nango", "oauth", "keychain"]

_SECRET_KEYS: Final = frozenset(
    {
        "value",
        "secret",
        "token",
        "password",
        "apikey",
        "api_key",
        "accesstoken",
        "access_token",
        "refreshtoken",
        "refresh_token",
        "clientsecret",
        "client_secret",
        "privatekey",
        "private_key",
    }
)


def _no_secret_values(params: dict[str, Any]) -> dict[str, Any]:
    leaked = sorted(key for key in params if key.lower() in _SECRET_KEYS)
    if leaked:
        msg = (
            f"retrievalParams must say where the secret is stored, not hold it (found {', '.join(leaked)}); "
            'use e.g. {"key": "ENV_VAR_NAME"} or {"connectionId", "providerConfigKey"}.'
        )
        raise ValueError(msg)
    return params


RetrievalParams = Annotated[dict[str, Any], AfterValidator(_no_secret_values)]


class CredentialCreate(RequestModel):
    """Body of `POST /credentials`."""

    id: ResourceId
    type: CredentialType
    credential_store_id: ResourceId
    retrieval_params: RetrievalParams | None = None


class CredentialUpdate(RequestModel):
    """Body of `PUT /credentials/{id}`."""

    id: ResourceId | None = None
    type: CredentialType | None = None
    credential_store_id: ResourceId | None = None
    retrieval_params: RetrievalParams | None = None


class CredentialRead(ApiModel):
    """A credential reference as returned."""

    id: str
    type: str
    credential_store_id: str
    retrieval_params: dict[str, Any] | None = None
    created_at: str
    updated_at: str


CREDENTIALS = Resource(
    path="credentials",
    kind="credential_references",
    label="Credential",
    tag="Credentials",
    create=CredentialCreate,
    update=CredentialUpdate,
    read=CredentialRead,
)


def endpoints() -> list[Endpoint]:
    """The credential routes."""
    return crud_endpoints(CREDENTIALS)
