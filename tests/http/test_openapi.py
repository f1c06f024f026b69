"""/openapi.json: an OpenAPI 3.1 document covering every route of the app."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store


@pytest.fixture
def backend() -> str:
    """The document and the auth gate do not depend on the database: SQLite only."""
    return "sqlite"


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    """The served document."""
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in document["paths"].items() for method, operation in item.items()]


async def test_version_is_3_1_0(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "Inkeep Runtime API"


async def test_every_tenant_route_is_documented_with_its_methods(
    document: dict[str, Any], settings: Settings, store: Store
) -> None:
    app = create_app(settings, store=store)
    routes = [r for r in app.routes if isinstance(r, Route) and r.path.startswith("/tenants")]
    assert routes
    for route in routes:
        path = re.sub(r"{(\w+):[^}]+}", r"{\1}", route.path)
        assert path in document["paths"], path
        methods = {m.lower() for m in route.methods or () if m != "HEAD"}
        assert methods <= set(document["paths"][path]), (path, methods)


async def test_every_documented_operation_is_routed(document: dict[str, Any], settings: Settings, store: Store) -> None:
    app = create_app(settings, store=store)
    routed = {
        (re.sub(r"{(\w+):[^}]+}", r"{\1}", r.path), m.lower())
        for r in app.routes
        if isinstance(r, Route)
        for m in r.methods or ()
    }
    for path, method, _ in _operations(document):
        assert (path, method) in routed


async def test_request_bodies_reference_component_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    bodies = [op["requestBody"] for _, _, op in _operations(document) if "requestBody" in op]
    assert bodies
    for body in bodies:
        ref = body["content"]["application/json"]["schema"]["$ref"]
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas


async def test_every_ref_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', __import__("json").dumps(document))
    assert refs
    assert {ref for ref in refs if ref not in schemas} == set()


async def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids))


async def test_path_parameters_are_declared(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)


async def test_list_routes_document_page_and_limit(document: dict[str, Any]) -> None:
    operation = document["paths"]["/tenants/{tenantId}/crud/projects/{projectId}/agents"]["get"]
    query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    assert query["page"]["minimum"] == 1
    assert (query["limit"]["minimum"], query["limit"]["maximum"], query["limit"]["default"]) == (1, 100, 10)


async def test_create_documents_201_and_problem_errors(document: dict[str, Any]) -> None:
    operation = document["paths"]["/tenants/{tenantId}/crud/projects/{projectId}/agents"]["post"]
    assert {"201", "400", "409"} <= set(operation["responses"])
    problem = operation["responses"]["409"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


async def test_request_schemas_use_wire_names(document: dict[str, Any]) -> None:
    operation = document["paths"]["/tenants/{tenantId}/crud/projects/{projectId}/agent-relations"]["post"]
    name = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    properties = document["components"]["schemas"][name]["properties"]
    assert {"graphId", "sourceAgentId", "targetAgentId", "externalAgentId"} <= set(properties)


async def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)


async def test_chat_routes_document_their_request_bodies(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, model in (
        ("/tenants/{tenantId}/projects/{projectId}/graphs/{graphId}/v1/chat/completions", "ChatCompletionsBody"),
        ("/tenants/{tenantId}/projects/{projectId}/graphs/{graphId}/api/chat", "UIChatBody"),
    ):
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{model}"}
        assert "messages" in document["components"]["schemas"][model]["properties"]
